"""Fit one NeRF (a DirectNeRF: shared grid + one learned MLP) to posed images.

Deliberately small: random ray batches from all training views, occupancy-masked stratified
samples through the marcher (CUDA kernels when available), Adam, an occupancy update every
few steps, and held-out PSNR on the test split. The batch adapts its ray count so the samples
that reach the differentiable pass stay near `target_samples` (empty space and the insides
of solids cost nothing once the occupancy grid and early termination know about them).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field
from torch import Tensor

from hyperfields_cli.field import backends
from hyperfields_cli.field.grid import Backend, GridConfig
from hyperfields_cli.field.mlp import SceneMLPConfig
from hyperfields_cli.guidance.posed_views import PosedViews, ViewDataset
from hyperfields_cli.hypernet.direct import DirectNeRF, DirectNeRFConfig
from hyperfields_cli.render.marcher import MarchBackend, default_step, march_rays, resolve_backend
from hyperfields_cli.render.occupancy import OccupancyGrid
from hyperfields_cli.render.renderer import render_ray_batch

BACKGROUNDS = {"white": 1.0, "black": 0.0}


class FitViewsConfig(BaseModel):
    """Settings of `fit_views` (defaults sized for a GPU; see tests for a CPU-sized set)."""

    steps: int = Field(30_000, ge=1)
    time_limit_s: float | None = Field(None, gt=0, description="stop after this training time")
    grid: GridConfig = GridConfig()
    mlp: SceneMLPConfig = SceneMLPConfig()
    grid_lr: float = 1e-2
    mlp_lr: float = 3e-3
    lr_final_ratio: float = Field(
        1.0,
        gt=0,
        le=1,
        description="exponential decay to this fraction of the lr by the end (steps or time limit)",
    )
    max_rays: int = Field(1 << 16, ge=1, description="rays per step at most")
    min_rays: int = Field(1 << 10, ge=1)
    target_samples: int = Field(1 << 18, ge=1, description="differentiable samples per step")
    query_budget: int = Field(1 << 20, ge=1, description="field evaluations per step at most")
    steps_across: int = Field(512, ge=8, description="ray step = cube diagonal / this")
    occupancy_resolution: int = 128
    occupancy_every: int = Field(16, ge=1)
    occupancy_decay: float = 0.95
    background: Literal["white", "black", "random"] = "white"
    eval_every_s: float | None = Field(None, gt=0, description="held-out PSNR every this")
    eval_views: int | None = Field(None, ge=1, description="test views used during training")
    march_backend: MarchBackend = "auto"
    grid_backend: Backend = "auto"
    compact: bool = True
    seed: int = 0


def psnr(mse: float) -> float:
    return -10.0 * math.log10(max(mse, 1e-10))


def _background(kind: str, n: int, device: torch.device, gen: torch.Generator) -> Tensor:
    """[n, 3] background colours for this batch (random backgrounds teach true alpha)."""
    if kind == "random":
        return torch.rand(n, 3, device=device, generator=gen)
    return torch.full((n, 3), BACKGROUNDS[kind], device=device)


@torch.no_grad()
def evaluate(
    model: DirectNeRF,
    occ: OccupancyGrid | None,
    views: PosedViews,
    cfg: FitViewsConfig,
    limit: int | None = None,
    return_images: bool = False,
) -> tuple[float, list[Tensor]]:
    """Mean per-image PSNR over (the first `limit`) views, composited on the fixed background
    (white for "random"). Returns the PSNR and optionally the renders [H, W, 3]."""
    field = model.field()
    bg_value = BACKGROUNDS.get(cfg.background, 1.0)
    step = default_step(model.cfg.bound, cfg.steps_across)
    scores, images = [], []
    n = len(views) if limit is None else min(limit, len(views))
    for i in range(n):
        o, d, px, py = views.view_rays(i)
        bg = torch.full((3,), bg_value, device=o.device)
        out = render_ray_batch(
            field, o, d, occ, step=step, backend=cfg.march_backend, background=bg
        )
        target = views.colors(torch.full_like(px, i), px, py, bg)
        pred = out.rgb[0].clamp(0.0, 1.0)
        scores.append(psnr(float(((pred - target) ** 2).mean())))
        if return_images:
            images.append(pred.reshape(views.height, views.width, 3).cpu())
    return sum(scores) / max(len(scores), 1), images


def _optimizer(model: DirectNeRF, cfg: FitViewsConfig) -> torch.optim.Adam:
    grid = list(model.grid.parameters())
    rest = [p for n, p in model.named_parameters() if not n.startswith("grid.")]
    groups = [{"params": grid, "lr": cfg.grid_lr}, {"params": rest, "lr": cfg.mlp_lr}]
    fused = next(model.parameters()).is_cuda
    return torch.optim.Adam(groups, betas=(0.9, 0.99), eps=1e-15, fused=fused or None)


def _build_kernels(cfg: FitViewsConfig, device: torch.device) -> None:
    """JIT-build/load the CUDA kernels now: a first build (~1 min) inside step 1 would eat
    the time limit (seen on H200: a 20 s budget ended after one step)."""
    if device.type != "cuda":
        return
    if cfg.grid_backend in ("auto", "cuda"):
        backends.cuda_extension()
    if cfg.march_backend in ("auto", "cuda"):
        resolve_backend(cfg.march_backend, device)


def fit_views(
    dataset: ViewDataset,
    cfg: FitViewsConfig | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    on_eval: Callable[[dict[str, float]], None] | None = None,
) -> tuple[DirectNeRF, dict[str, Any]]:
    """Fit a DirectNeRF to `dataset.train`; metrics include held-out `psnr_test`.

    Training time (`seconds`, `time_limit_s`) excludes evaluations and the one-off build of
    the CUDA kernels (done before the clock starts). on_eval receives
    {"step", "seconds", "psnr_test"} at every periodic evaluation.
    """
    cfg = cfg or FitViewsConfig()
    device = torch.device(device)
    torch.manual_seed(cfg.seed)
    model = DirectNeRF(
        DirectNeRFConfig(grid=cfg.grid, mlp=cfg.mlp), grid_backend=cfg.grid_backend
    ).to(device)
    occ = OccupancyGrid(1, cfg.occupancy_resolution, model.cfg.bound, decay=cfg.occupancy_decay).to(
        device
    )
    opt = _optimizer(model, cfg)
    _build_kernels(cfg, device)
    train = dataset.train.to(device)
    test = dataset.test.to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    step_size = default_step(model.cfg.bound, cfg.steps_across)
    kept_per_ray = queried_per_ray = float(cfg.steps_across)  # until measured
    n_pix = len(train) * train.height * train.width
    history: list[dict[str, float]] = []
    train_s, last_eval, loss_v, step = 0.0, 0.0, float("nan"), 0
    prec = torch.get_float32_matmul_precision()
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # tf32 matmuls in the MLP
    bar = _Progress(cfg.steps, progress)
    try:
        for step in range(1, cfg.steps + 1):
            t0 = time.perf_counter()
            done = step / cfg.steps
            if cfg.time_limit_s:
                done = max(done, train_s / cfg.time_limit_s)
            for group, base_lr in zip(opt.param_groups, (cfg.grid_lr, cfg.mlp_lr), strict=True):
                group["lr"] = base_lr * cfg.lr_final_ratio ** min(done, 1.0)
            if step % cfg.occupancy_every == 0:
                occ.update(model.field(), generator=gen)
            n = min(cfg.target_samples / kept_per_ray, cfg.query_budget / queried_per_ray)
            n = int(min(max(n, cfg.min_rays), cfg.max_rays))
            flat = torch.randint(0, n_pix, (n,), device=device, generator=gen)
            view = flat // (train.height * train.width)
            py = (flat // train.width) % train.height
            px = flat % train.width
            o, d = train.rays(view, px, py)
            bg = _background(cfg.background, n, device, gen)
            target = train.colors(view, px, py, bg)
            out = march_rays(
                model.field(),
                o,
                d,
                occ,
                step=step_size,
                perturb=True,
                generator=gen,
                background=bg[None],
                backend=cfg.march_backend,
                training=True,
                compact=cfg.compact,
            )
            loss = torch.mean((out.rgb[0] - target) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            mix = 0.1 if step > 1 else 1.0  # running means of samples per ray
            kept_per_ray += mix * (max(out.num_composited / n, 1.0) - kept_per_ray)
            queried_per_ray += mix * (max(out.num_queried / n, 1.0) - queried_per_ray)
            loss_v = float(loss.detach())
            train_s += time.perf_counter() - t0
            bar.update(step, loss_v, train_s, n)
            if cfg.eval_every_s and train_s - last_eval >= cfg.eval_every_s:
                last_eval = train_s
                score, _ = evaluate(model, occ, test, cfg, cfg.eval_views)
                rec = {"step": float(step), "seconds": train_s, "psnr_test": score}
                history.append(rec)
                bar.note(rec)
                if on_eval:
                    on_eval(rec)
            if cfg.time_limit_s is not None and train_s >= cfg.time_limit_s:
                break
    finally:
        bar.close()
        torch.set_float32_matmul_precision(prec)
    score, _ = evaluate(model, occ, test, cfg)
    model.add_module("occupancy", occ)  # saved with the model's state_dict, used to render
    metrics = {
        "psnr_test": score,
        "psnr_train_batch": psnr(loss_v),
        "loss": loss_v,
        "steps": step,
        "seconds": train_s,
        "steps_per_s": step / max(train_s, 1e-9),
        "occupied_fraction": float(occ.occupied_fraction()[0]),
        "history": history,
        "device": str(device),
    }
    return model, metrics


class _Progress:
    """Rich progress line: steps, loss, train-batch PSNR, steps/s, rays per step."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(
            TextColumn("fit views"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        )
        self.task = self.p.add_task("fit", total=total, info="")
        self.p.start()

    def update(self, step: int, loss: float, seconds: float, rays: int) -> None:
        if self.enabled and (step % 10 == 0 or step == 1):
            info = (
                f"loss {loss:.5f}  psnr {psnr(loss):5.2f}  {step / max(seconds, 1e-9):6.1f} "
                f"steps/s  {rays} rays"
            )
            self.p.update(self.task, completed=step, info=info)

    def note(self, rec: dict[str, float]) -> None:
        if self.enabled:
            self.p.console.print(
                f"step {int(rec['step'])}  {rec['seconds']:.1f}s  "
                f"test PSNR {rec['psnr_test']:.2f} dB"
            )

    def close(self) -> None:
        if self.enabled:
            self.p.stop()
