"""The pieces of `finetune` that the command and its benchmark share.

- `make_start`: what gets optimised, from which initialisation. `weights` optimises one
  FinetunedNeRF (MLP weights + cond + grid + background); `hypernet` optimises a whole
  hypernetwork conditioned on the one prompt (the paper's finetuning) and bakes it at the end.
  `student` starts from the student, `scratch` from a random init of the same architecture.
- step functions per guidance (synthetic ground truth, posed views, SDS) and evaluators.
- `optimise`: the shared Trainer with evaluations at chosen steps (a PSNR-vs-step curve).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from hyperfields_cli.field.scene_field import SceneField
from hyperfields_cli.guidance.posed_views import PosedViews, ViewDataset
from hyperfields_cli.hypernet.finetuned import FinetunedNeRF, FinetunedNeRFConfig
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.render.composite import opacity_entropy
from hyperfields_cli.render.renderer import render_rays
from hyperfields_cli.synthetic.scene import ProceduralScenes, SceneSpec
from hyperfields_cli.text.batch import TextBatch
from hyperfields_cli.train.common import param_groups
from hyperfields_cli.train.evaluate import eval_cameras, psnr, render_views
from hyperfields_cli.train.steps import RayConfig, match_target_step, psnr_from_mse
from hyperfields_cli.train.trainer import OptimConfig, StepFn, Trainer

Init = Literal["student", "scratch"]
Optimise = Literal["weights", "hypernet"]
Evaluator = Callable[[SceneField], float]


@dataclass
class Start:
    """What the optimiser updates (`module`), the field it renders, and the NeRF to ship."""

    module: nn.Module
    field: Callable[[], SceneField]  # the differentiable field of the current parameters
    bake: Callable[[], FinetunedNeRF]  # the result as a single-scene NeRF (copied out)
    eval_field: Callable[[], SceneField]  # a deterministic field for evaluation


def make_start(
    student: HyperFieldsModel,
    text: TextBatch,
    init: Init,
    optimise: Optimise,
    seed: int = 0,
    grid_scale: float = 1.0,
) -> Start:
    """Build the thing to optimise for the one prompt in `text`.

    grid_scale multiplies the student's grid table. Features are L2-normalised per point, so
    this leaves the initial field unchanged; it only sets how far an Adam step moves them.
    """
    device = student.device
    if optimise == "weights":
        if init == "student":
            nerf = FinetunedNeRF.from_student(student, text)
            nerf.grid.table.data.mul_(grid_scale)
        else:
            cfg = FinetunedNeRFConfig.like(student.config)
            nerf = FinetunedNeRF.scratch(cfg, seed).to(device)
        nerf.requires_grad_(True)
        return Start(nerf, nerf.field, lambda: copy.deepcopy(nerf), nerf.field)
    if init == "student":
        model = copy.deepcopy(student)
        model.grid.table.data.mul_(grid_scale)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = HyperFieldsModel(student.config).to(device)
    model.requires_grad_(True)

    def train_field() -> SceneField:
        return model.scene_field(text, model.random_probe_points())

    def eval_field() -> SceneField:
        return model.scene_field(text)  # the fixed probe points, as generate uses

    return Start(model, train_field, lambda: FinetunedNeRF.from_student(model, text), eval_field)


# -- guidance: one step each ---------------------------------------------------------------


def synthetic_step(
    start: Start, spec: SceneSpec, rays: RayConfig, device: torch.device, seed: int = 0
) -> StepFn:
    """Image-space MSE against the procedural scene the prompt names, at shared samples."""
    target = ProceduralScenes([spec])
    gen = torch.Generator().manual_seed(seed)

    def step(_: int) -> dict[str, Tensor]:
        return match_target_step(start.field(), target, rays, device, gen)

    return step


def views_step(
    start: Start, views: PosedViews, rays: RayConfig, device: torch.device, seed: int = 0
) -> StepFn:
    """MSE against random pixels of posed training images (composited on white)."""
    gen = torch.Generator().manual_seed(seed)
    n_pix = len(views) * views.height * views.width
    white = torch.ones(3, device=device)

    def step(_: int) -> dict[str, Tensor]:
        flat = torch.randint(0, n_pix, (rays.rays_per_step,), generator=gen).to(device)
        view = flat // (views.height * views.width)
        py, px = (flat // views.width) % views.height, flat % views.width
        origins, dirs = views.rays(view, px, py)  # [R, 3]
        want = views.colors(view, px, py, white)  # [R, 3]
        got = render_rays(start.field(), origins, dirs, rays.num_samples, perturb=True)
        mse = torch.mean((got.rgb[0] - want) ** 2)
        loss = mse + rays.entropy_weight * opacity_entropy(got.opacity)
        return {"loss": loss, "mse": mse.detach(), "psnr": psnr_from_mse(mse.detach())}

    return step


def sds_step(
    start: Start, prompt: str, sds: object, num_samples: int, device: torch.device, seed: int = 0
) -> StepFn:
    """Stable Diffusion's score on renders of the one prompt (needs SD weights)."""
    from hyperfields_cli.train.sds_loop import make_field_sds_step

    return make_field_sds_step(
        lambda _idx: start.field(),
        [prompt],
        sds,
        1,
        num_samples,
        device,
        seed,  # type: ignore[arg-type]
    )


# -- evaluation ----------------------------------------------------------------------------


def synthetic_evaluator(
    spec: SceneSpec,
    device: torch.device,
    views: int = 4,
    size: int = 128,
    num_samples: int = 192,
    target_samples: int = 512,
) -> Evaluator:
    """Held-out PSNR (dB) against the procedural ground truth; its renders are made once."""
    cams = eval_cameras(views, size).to(device)
    want = render_views(ProceduralScenes([spec]), cams, target_samples)  # [B, 1, H, W, 3]

    def evaluate(f: SceneField) -> float:
        got = render_views(f, cams, num_samples)
        return float(psnr(got, want, dims=(0, 1, 2, 3, 4)))

    return evaluate


def views_evaluator(views: PosedViews, num_samples: int = 192, chunk: int = 8192) -> Evaluator:
    """Mean per-image PSNR (dB) over the test views (composited on white)."""
    white = torch.ones(3, device=views.images.device)

    @torch.no_grad()
    def evaluate(f: SceneField) -> float:
        scores = []
        for i in range(len(views)):
            o, d, px, py = views.view_rays(i)
            parts = [
                render_rays(f, o[j : j + chunk], d[j : j + chunk], num_samples).rgb[0]
                for j in range(0, o.shape[0], chunk)
            ]
            got = torch.cat(parts).clamp(0, 1)
            want = views.colors(torch.full_like(px, i), px, py, white)
            scores.append(float(psnr(got, want, dims=(0, 1))))
        return sum(scores) / len(scores)

    return evaluate


def dataset_views(dataset: ViewDataset, device: torch.device, max_test: int) -> tuple:
    """(train, test) splits on `device`, test cut to `max_test` views."""
    test = dataset.test
    if len(test) > max_test:
        keep = list(range(max_test))
        test = PosedViews(
            test.images[keep], test.c2w[keep], test.intrinsics[keep], test.names[:max_test]
        )
    return dataset.train.to(device), test.to(device)


# -- the loop ------------------------------------------------------------------------------


@dataclass
class Curve:
    """Evaluations along one run: (step, PSNR) pairs and the time spent outside them."""

    points: list[tuple[int, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)

    def first_step_reaching(self, threshold: float) -> int | None:
        return next((s for s, v in self.points if v >= threshold), None)


def optimise(
    start: Start,
    step_fn: StepFn,
    optim: OptimConfig,
    steps: int,
    evaluate: Evaluator | None = None,
    eval_at: Iterable[int] = (),
    description: str = "finetune",
    show_progress: bool = True,
    trainer: Trainer | None = None,
) -> tuple[Trainer, Curve]:
    """Train `steps` steps with the shared Trainer; evaluate at the steps in `eval_at`
    (0 = the initialisation, `steps` = the end) when `evaluate` is given."""
    trainer = trainer or Trainer(
        start.module,
        param_groups(start.module, optim),
        optim,
        steps,
        None,
        description,
        show_progress,
    )
    curve = Curve()
    at = set(eval_at) if evaluate is not None else set()
    done: set[int] = set()

    def run_eval(step: int) -> None:
        t0 = time.perf_counter()
        with torch.no_grad():
            curve.points.append((step, evaluate(start.eval_field())))  # type: ignore[misc]
        done.add(step)
        curve.eval_seconds += time.perf_counter() - t0

    def step(i: int) -> dict[str, Tensor | float]:
        if i in at and i not in done:  # the state after i updates, before update i + 1
            run_eval(i)
        return step_fn(i)

    t0 = time.perf_counter()
    trainer.run(step)
    if trainer.step in at and trainer.step not in done:
        run_eval(trainer.step)
    curve.train_seconds = time.perf_counter() - t0 - curve.eval_seconds
    curve.history = trainer.history
    return trainer, curve


def eval_schedule(
    steps: int, dense_until: int = 100, every_dense: int = 10, every: int = 25
) -> list[int]:
    """Evaluation steps: dense early (fast starts need resolution), sparser later, the end."""
    out = set(range(0, min(dense_until, steps) + 1, every_dense))
    out |= set(range(dense_until, steps + 1, every))
    out.add(steps)
    return sorted(s for s in out if s <= steps)
