"""`teach` and `distill`: parse flags into settings, run the loop, print where it went."""

from __future__ import annotations

from pathlib import Path

import typer

from hyperfields_cli.cli.app import app, console


def _print_artifact(artifact, what: str) -> None:  # noqa: ANN001
    m = artifact.manifest
    console.print(f"[green]saved {what}[/green] [bold]{artifact.ref}[/bold] -> {artifact.path}")
    shown = {k: v for k, v in m.metrics.items() if "/" not in k}
    if shown:
        console.print(
            "  "
            + ", ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()
            )
        )


@app.command()
def teach(
    prompt_pack: list[str] = typer.Option(
        ...,
        "--prompt-pack",
        "-p",
        help="pack name (see `hyperfields packs`) or a .toml path; repeat for one teacher each",
    ),
    guidance: str = typer.Option(
        None, help="synthetic | sds (default: synthetic if the pack has procedural scenes)"
    ),
    iters: int = typer.Option(3000, help="training steps"),
    name: str = typer.Option(None, help="artifact name (default: the pack name)"),
    meta_batch: int = typer.Option(4, help="prompts per step, sharing one camera"),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N"),
    seed: int = typer.Option(0),
    resume: bool = typer.Option(False, help="continue the last run of this name"),
    sd_model: str = typer.Option(None, help="Stable Diffusion id or folder (sds guidance)"),
    gpus: int = typer.Option(1, min=1, help="spread several packs over this many GPUs"),
) -> None:
    """Fit one teacher hypernetwork over the prompts of a pack (or one per pack).

    Example: hyperfields teach --prompt-pack bowls --iters 3000

    Several packs on two GPUs: hyperfields teach -p bowls -p vases --gpus 2
    """
    from hyperfields_cli.config import TeachConfig
    from hyperfields_cli.train.teach import teach_packs

    extra = {"sds": {"model_id": sd_model}} if sd_model else {}
    cfg = TeachConfig(
        prompt_pack=prompt_pack[0],
        guidance=guidance,
        iters=iters,
        name=name,
        meta_batch=meta_batch,
        device=device,
        seed=seed,
        resume=resume,
        **extra,
    )
    for art in teach_packs(cfg, prompt_pack, gpus):
        _print_artifact(art, "teacher")


@app.command()
def distill(
    teachers: Path = typer.Option(
        ..., "--teachers", "-t", help="TOML listing [[teachers]] ref=... or pack=..."
    ),
    iters: int = typer.Option(5000, help="training steps"),
    name: str = typer.Option(None, help="student name (default: from the manifest or 'student')"),
    arch: str = typer.Option(
        "dynamic", help="dynamic | static | concat | additive | routed (see hypernet/routed.py)"
    ),
    colour_model: str = typer.Option(
        "rgb", help="rgb | albedo_shade (albedo times a shading factor of the shape)"
    ),
    meta_batch: int = typer.Option(2, help="scenes per step over all GPUs (paper: 2)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N"),
    seed: int = typer.Option(0),
    resume: bool = typer.Option(False, help="continue the last run of this name"),
    gpus: int = typer.Option(1, min=1, help="data-parallel over this many GPUs (torchrun)"),
    paraphrase: bool = typer.Option(
        True,
        "--paraphrase/--no-paraphrase",
        help="train procedural-pack scenes on all their attribute's phrasings, not one prompt",
    ),
    volume_weight: float = typer.Option(
        0.0,
        min=0.0,
        help="colour (albedo_shade: albedo) MSE at random volume points (exact teachers only)",
    ),
) -> None:
    """Distill many teachers into one student hypernetwork.

    Example: hyperfields distill --teachers teachers.toml --iters 5000

    On 4 GPUs (the meta-batch is global): hyperfields distill -t teachers.toml --gpus 4
    --meta-batch 8. Under your own torchrun, leave --gpus out.
    """
    from hyperfields_cli.config import DistillConfig
    from hyperfields_cli.train.distill import distill as run_distill

    cfg = DistillConfig(
        teachers=teachers,
        iters=iters,
        name=name,
        arch=arch,
        colour_model=colour_model,
        meta_batch=meta_batch,
        device=device,
        seed=seed,
        resume=resume,
        gpus=gpus,
        paraphrase=paraphrase,
    )
    if volume_weight > 0:
        cfg.rays = cfg.rays.model_copy(update={"volume_weight": volume_weight})
    art = run_distill(cfg)
    if art is not None:  # None on torchrun ranks other than 0
        _print_artifact(art, "student")
