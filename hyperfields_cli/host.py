"""Host-to-device copies that do not wait on the GPU.

A plain `.to("cuda")` of a CPU tensor copies from pageable memory, which blocks the host until
the stream has finished all earlier work: in a training step that is a full drain of the GPU
queue, and the CPU stops running ahead. Small per-step tensors (sampled cameras, probe points,
row indices) go through pinned memory instead, asynchronously.
"""

from __future__ import annotations

import torch
from torch import Tensor


def to_device(t: Tensor, device: torch.device | str) -> Tensor:
    """`t.to(device)`; from the CPU to a GPU through pinned memory, without blocking."""
    device = torch.device(device)
    if device.type != "cuda" or t.device.type != "cpu":
        return t.to(device)
    return t.contiguous().pin_memory().to(device, non_blocking=True)  # expanded views: materialise


def index_tensor(rows: list[int], device: torch.device | str) -> Tensor:
    """rows as an int64 index tensor [len(rows)] on `device`, copied without blocking."""
    return to_device(torch.tensor(rows, dtype=torch.int64), device)
