"""The SDS step of `teach --guidance sds` (and finetune): render small, let SD judge.

A meta-batch of prompts shares one random orbit camera from the paper's ranges; the renders
([S, H, W, 3], 64x64 by default) go through Stable Diffusion's score with view-dependent
prompts chosen by that camera's angles.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
from torch import Tensor

from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.guidance.sds import SDSConfig, StableDiffusionGuidance
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.render.cameras import PAPER_SDS_RANGE, camera_rays, random_orbit_cameras
from hyperfields_cli.render.renderer import render_rays
from hyperfields_cli.text.batch import TextBatch


def make_sds_step(
    model: HyperFieldsModel,
    text: TextBatch,
    sds: SDSConfig,
    meta_batch: int,
    num_samples: int,
    device: torch.device,
    seed: int = 0,
) -> Callable[[int], dict[str, Tensor]]:
    """Build a step function that renders S prompts and returns the SDS loss."""

    def field_of(idx: list[int]) -> RadianceField:
        return model.scene_field(text.select(idx), model.random_probe_points())

    return make_field_sds_step(field_of, text.prompts, sds, meta_batch, num_samples, device, seed)


def make_field_sds_step(
    field_of: Callable[[list[int]], RadianceField],
    prompts: list[str],
    sds: SDSConfig,
    meta_batch: int,
    num_samples: int,
    device: torch.device,
    seed: int = 0,
) -> Callable[[int], dict[str, Tensor]]:
    """The SDS step for any producer of fields: `field_of(idx)` -> the fields of prompts idx."""
    guidance = StableDiffusionGuidance.from_pretrained(sds, device)
    guidance.prepare_prompts(prompts)
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    size = sds.render_size

    def step(_: int) -> dict[str, Tensor]:
        idx = sorted(rng.sample(range(len(prompts)), min(meta_batch, len(prompts))))
        cams = random_orbit_cameras(1, size, ranges=PAPER_SDS_RANGE, generator=gen).to(device)
        origins, dirs = camera_rays(cams)
        field = field_of(idx)
        out = render_rays(field, origins[0], dirs[0], num_samples, perturb=True)
        images = out.rgb.reshape(len(idx), size, size, 3)
        s = len(idx)
        loss = guidance.loss(
            images,
            torch.tensor(idx, device=device),
            cams.polar_deg.expand(s).to(device),
            cams.azimuth_deg.expand(s).to(device),
            generator=None,
        )
        return {"loss": loss}

    return step
