"""View-dependent prompts (DreamFusion): "<prompt>, front view" etc., chosen by camera angle.

Stable Diffusion draws the canonical front of an object unless told otherwise; appending the
view direction to the prompt stops every side of the NeRF from growing a face (the "Janus"
problem). Angles follow `render/cameras.py`: polar from +z (0 = overhead), azimuth from +x in
degrees. "front" is the camera on the +x side (azimuth 0), "back" on -x (azimuth 180).
"""

from __future__ import annotations

import torch
from torch import Tensor

VIEWS: tuple[str, ...] = ("front", "side", "back", "overhead")
FRONT, SIDE, BACK, OVERHEAD = range(4)


def view_prompts(prompt: str) -> list[str]:
    """All view variants of one prompt, in `VIEWS` order."""
    return [f"{prompt}, {view} view" for view in VIEWS]


def view_index(
    polar_deg: Tensor,
    azimuth_deg: Tensor,
    overhead_deg: float = 30.0,
    front_half_width_deg: float = 45.0,
) -> Tensor:
    """Camera angles [B] -> index into `VIEWS` [B] (long).

    overhead when polar < overhead_deg; otherwise front when |azimuth| < front_half_width_deg,
    back when |azimuth - 180| < front_half_width_deg, side in between (both sides share a prompt).
    """
    polar = torch.as_tensor(polar_deg, dtype=torch.float32)
    az = torch.remainder(torch.as_tensor(azimuth_deg, dtype=torch.float32) + 180.0, 360.0) - 180.0
    dist_front = az.abs()  # [B] degrees from azimuth 0, in [0, 180]
    idx = torch.full(az.shape, SIDE, dtype=torch.long, device=az.device)
    idx = torch.where(dist_front < front_half_width_deg, FRONT, idx)
    idx = torch.where(dist_front > 180.0 - front_half_width_deg, BACK, idx)
    return torch.where(polar.to(az.device) < overhead_deg, OVERHEAD, idx)
