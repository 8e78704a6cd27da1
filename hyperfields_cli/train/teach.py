"""`hyperfields teach`: fit one teacher hypernetwork over the prompts of one pack.

Each step draws a meta-batch of the pack's prompts that share one random camera (paper),
renders them through the hypernetwork and compares with the guidance: the procedural
world's exact renders (`synthetic`) or Stable Diffusion's score (`sds`). Several packs are
independent jobs: `teach_packs` spreads them over GPUs (torchrun workers), one artifact each.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from hyperfields_cli.artifacts import Artifact, ArtifactStore
from hyperfields_cli.config import TeachConfig, resolve_device
from hyperfields_cli.errors import UsageError
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.synthetic.packs import PromptPack, load_pack
from hyperfields_cli.synthetic.scene import ProceduralScenes
from hyperfields_cli.text.batch import TextBatch
from hyperfields_cli.train import distributed
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


def teach(
    cfg: TeachConfig, store: ArtifactStore | None = None, show_progress: bool = True
) -> Artifact:
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
        show_progress=show_progress,
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


def teach_packs(
    cfg: TeachConfig, packs: Sequence[str], gpus: int = 1, store: ArtifactStore | None = None
) -> list[Artifact]:
    """One teacher per pack (each replaces `cfg.prompt_pack`), returned in pack order.

    Under torchrun, rank r teaches packs[r::world_size] on its own device; `gpus > 1`
    outside torchrun launches min(gpus, len(packs)) such workers on this machine; otherwise
    the packs are taught one after the other.
    """
    store = store or ArtifactStore()
    names = [load_pack(p).name for p in packs]
    if len(packs) > 1 and cfg.name:
        raise UsageError(
            "--name names one teacher", "with several packs each teacher takes its pack's name"
        )
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise UsageError(f"packs given twice (by name): {', '.join(dup)}")
    for p in packs:  # fail on a bad pack before any work starts
        pick_guidance(cfg, load_pack(p))
    if gpus > 1 and len(packs) > 1 and not distributed.launched():
        distributed.check_gpus(gpus, cfg.device)
        job = {
            "config": cfg.model_dump(mode="json"),
            "packs": list(packs),
            "store": str(store.root),
        }
        refs = distributed.launch("teach", job, min(gpus, len(packs)))
        arts = [store.resolve(r, kind="teacher") for r in refs]
        return sorted(arts, key=lambda a: names.index(a.name))
    ctx = distributed.init(cfg.device, process_group=False)
    out = []
    for pack, name in list(zip(packs, names, strict=True))[ctx.rank :: ctx.world_size]:
        update: dict[str, object] = {"prompt_pack": pack}
        if ctx.enabled:
            update["device"] = str(ctx.device)
        if cfg.run_dir is not None and len(packs) > 1:
            update["run_dir"] = cfg.run_dir / name
        out.append(teach(cfg.model_copy(update=update), store, show_progress=ctx.is_main))
    return out
