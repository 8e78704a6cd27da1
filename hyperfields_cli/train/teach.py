"""`hyperfields teach`: fit one teacher hypernetwork over the prompts of one pack.

Each step draws a meta-batch of the pack's prompts that share one random camera (paper),
renders them through the hypernetwork and compares with the guidance: the procedural
world's exact renders (`synthetic`) or Stable Diffusion's score (`sds`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
from torch import Tensor

from hyperfields_cli.artifacts import Artifact, ArtifactStore
from hyperfields_cli.config import TeachConfig, resolve_device
from hyperfields_cli.errors import UsageError
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.synthetic.packs import PromptPack, load_pack
from hyperfields_cli.synthetic.scene import ProceduralScenes
from hyperfields_cli.text.batch import TextBatch
from hyperfields_cli.train.common import (
    build_model,
    param_groups,
    run_dir_for,
    sample_sheet,
    save_model_artifact,
)
from hyperfields_cli.train.evaluate import eval_cameras, field_psnr, render_views
from hyperfields_cli.train.steps import match_target_step
from hyperfields_cli.train.trainer import Trainer

StepFn = Callable[[int], dict[str, Tensor]]


def pick_guidance(cfg: TeachConfig, pack: PromptPack) -> str:
    has_scenes = all(p.scene is not None for p in pack.prompts)
    guidance = cfg.guidance or ("synthetic" if has_scenes else "sds")
    if guidance == "synthetic" and not has_scenes:
        missing = [p.text for p in pack.prompts if p.scene is None][:3]
        raise UsageError(
            f"pack {pack.name!r} has prompts without a procedural scene: {missing}",
            "use --guidance sds, or give every prompt a scene in the pack",
        )
    return guidance


def synthetic_step(
    model: HyperFieldsModel,
    text: TextBatch,
    pack: PromptPack,
    cfg: TeachConfig,
    device: torch.device,
) -> StepFn:
    specs = [p.scene for p in pack.prompts]
    rng = random.Random(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)

    def step(_: int) -> dict[str, Tensor]:
        idx = rng.sample(range(len(specs)), min(cfg.meta_batch, len(specs)))
        field = model.scene_field(text.select(idx), model.random_probe_points(generator=None))
        target = ProceduralScenes([specs[i] for i in idx])
        return match_target_step(field, target, cfg.rays, device, gen)

    return step


def sds_step(
    model: HyperFieldsModel,
    text: TextBatch,
    pack: PromptPack,
    cfg: TeachConfig,
    device: torch.device,
) -> StepFn:
    from hyperfields_cli.train.sds_loop import make_sds_step

    return make_sds_step(
        model, text, cfg.sds, cfg.meta_batch, cfg.rays.num_samples, device, cfg.seed
    )


def evaluate_teacher(
    model: HyperFieldsModel, text: TextBatch, pack: PromptPack, cfg: TeachConfig
) -> tuple[dict[str, float | str], object]:
    """Held-out PSNR per prompt (synthetic packs) and a sheet of validation renders."""
    model.eval()
    cams = eval_cameras(cfg.eval_views, cfg.eval_size).to(model.device)
    labels = [p.text for p in pack.prompts]
    with torch.no_grad():
        field = model.scene_field(text)
        if all(p.scene is not None for p in pack.prompts):
            target = ProceduralScenes([p.scene for p in pack.prompts])
            per, got, want = field_psnr(field, target, cams)
            metrics: dict[str, float | str] = {"psnr_mean": float(per.mean())}
            metrics.update({f"psnr/{lab}": float(v) for lab, v in zip(labels, per, strict=True)})
            return metrics, sample_sheet(got, want, labels)
        got = render_views(field, cams, 192)
        return {}, sample_sheet(got, None, labels)


def teach(cfg: TeachConfig, store: ArtifactStore | None = None) -> Artifact:
    """Run `teach` end to end and return the saved teacher artifact."""
    store = store or ArtifactStore()
    pack = load_pack(cfg.prompt_pack)
    guidance = pick_guidance(cfg, pack)
    name = cfg.name or pack.name
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model, text = build_model(cfg.model, [p.text for p in pack.prompts], device)
    maker = {"synthetic": synthetic_step, "sds": sds_step}.get(guidance)
    if maker is None:
        raise UsageError(
            f"guidance {guidance!r} is not supported by teach", "use --guidance synthetic or sds"
        )
    step_fn = maker(model, text, pack, cfg, device)
    trainer = Trainer(
        model,
        param_groups(model, cfg.optim),
        cfg.optim,
        cfg.iters,
        run_dir_for("teach", name, cfg.run_dir),
        f"teach {name}",
    )
    if cfg.resume:
        trainer.resume()
    trainer.run(step_fn)
    metrics, sheet = evaluate_teacher(model, text, pack, cfg)
    metrics.update({**trainer.run_metrics(), "guidance": guidance})
    return save_model_artifact(
        store,
        "teacher",
        name,
        model,
        [p.text for p in pack.prompts],
        config=cfg,
        metrics=metrics,
        sheet=sheet,
    )
