"""Tiny configs and fake text batches so hypernet tests run in seconds on CPU."""

from __future__ import annotations

import torch

from hyperfields_cli.field.grid import GridConfig
from hyperfields_cli.field.mlp import SceneMLPConfig
from hyperfields_cli.hypernet.hypernet import HyperNetConfig
from hyperfields_cli.hypernet.model import HyperFieldsConfig, ProbeConfig
from hyperfields_cli.text.batch import TextBatch

TEXT_DIM = 16


def tiny_config(
    arch: str = "dynamic", rank: int | None = 4, **overrides: object
) -> HyperFieldsConfig:
    return HyperFieldsConfig.model_validate(
        {
            "arch": arch,
            "text_dim": TEXT_DIM,
            "hypernet": HyperNetConfig(
                dim=32, depth=2, heads=4, ffn_mult=2.0, head_hidden=32, modulation_rank=rank
            ).model_dump(),
            "grid": GridConfig(
                num_levels=4,
                features_per_level=2,
                base_resolution=4,
                finest_resolution=32,
                log2_table_size=10,
            ).model_dump(),
            "mlp": SceneMLPConfig(depth=4, width=16, cond_dim=8).model_dump(),
            "probe": ProbeConfig(num_points=256).model_dump(),
            **overrides,
        }
    )


def fake_text(n: int = 2, seed: int = 0, dim: int = TEXT_DIM) -> TextBatch:
    """n prompts of different lengths with unit-norm random tokens."""
    g = torch.Generator().manual_seed(seed)
    lengths = [3 + 2 * i for i in range(n)]
    t = max(lengths)
    tokens = torch.nn.functional.normalize(torch.randn(n, t, dim, generator=g), dim=-1)
    mask = torch.arange(t)[None] < torch.tensor(lengths)[:, None]  # [n, t]
    tokens = tokens * mask[..., None]
    sentence = torch.nn.functional.normalize(tokens.sum(1), dim=-1)
    return TextBatch(tokens, mask, sentence, [f"prompt {i}" for i in range(n)])
