"""Grid-encoding backend selection. Only the pure-torch backend exists so far."""

from __future__ import annotations

import torch
from torch import Tensor

from hyperfields_cli.errors import UsageError


def resolve(requested: str, device: torch.device) -> str:
    if requested in ("auto", "torch"):
        return "torch"
    raise UsageError(f"grid backend {requested!r} is not available on {device}",
                     "use --grid-backend torch")


def encode(backend: str, x: Tensor, table: Tensor, resolutions: Tensor, offsets: Tensor,
           hashed: Tensor, table_size: int) -> Tensor:
    raise UsageError(f"grid backend {backend!r} is not available")
