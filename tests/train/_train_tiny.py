"""Tiny settings so teach / distill / generate run end to end on a 2-core CPU in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hyperfields_cli.field.grid import GridConfig
from hyperfields_cli.field.mlp import SceneMLPConfig
from hyperfields_cli.hypernet.hypernet import HyperNetConfig
from hyperfields_cli.hypernet.model import HyperFieldsConfig, ProbeConfig
from hyperfields_cli.train.steps import RayConfig
from hyperfields_cli.train.trainer import OptimConfig


def tiny_model() -> HyperFieldsConfig:
    return HyperFieldsConfig(
        hypernet=HyperNetConfig(
            dim=32, depth=1, heads=4, ffn_mult=2.0, head_hidden=32, modulation_rank=4
        ),
        grid=GridConfig(num_levels=4, base_resolution=8, finest_resolution=64, log2_table_size=12),
        mlp=SceneMLPConfig(depth=4, width=32, cond_dim=16),
        probe=ProbeConfig(num_points=256),
    )


def tiny_rays(**kw: object) -> RayConfig:
    return RayConfig(image_size=24, rays_per_step=256, num_samples=32, **kw)


def tiny_optim(**kw: object) -> OptimConfig:
    base = {
        "lr": 2e-3,
        "grid_lr": 3e-2,
        "warmup_steps": 5,
        "log_every": 1,
        "checkpoint_every": 1000,
    }
    return OptimConfig(**{**base, **kw})


TWO_PROMPTS = """
name = "duo"
description = "two scenes for tests"
split = "custom"

[[prompts]]
text = "a red bowl"
shape = "bowl"
attribute = "red"

[[prompts]]
text = "a blue plate"
shape = "plate"
attribute = "blue"
"""


def tiny_run(run_dir: Path, eval_views: int = 1, eval_size: int = 16, **kw: Any) -> dict[str, Any]:
    """The keyword arguments every tiny CPU teach/distill config shares (+ overrides)."""
    base = {"model": tiny_model(), "rays": tiny_rays(), "optim": tiny_optim()}
    base.update(eval_views=eval_views, eval_size=eval_size, device="cpu", run_dir=run_dir)
    return {**base, **kw}


def save_tiny_student() -> str:
    """Save an untrained tiny student in the current store ($HYPERFIELDS_HOME); its ref."""
    import torch

    from hyperfields_cli.artifacts import ArtifactStore
    from hyperfields_cli.hypernet.model import HyperFieldsModel

    torch.manual_seed(0)
    model = HyperFieldsModel(tiny_model())
    art = ArtifactStore().save(
        "student",
        "tiny",
        model.save_pretrained,
        prompts=["a red bowl"],
        text_encoder=model.config.text_encoder,
        architecture=model.config,
    )
    return art.ref
