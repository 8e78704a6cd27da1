"""Several radiance fields answered as one batch of scenes (e.g. scenes from many teachers)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from hyperfields_cli.field.base import FieldOutput, RadianceField


class StackedField:
    """Concatenate the scenes of `fields` in order: scene j of the stack is one of theirs."""

    def __init__(self, fields: Sequence[RadianceField]) -> None:
        if not fields:
            raise ValueError("StackedField needs at least one field")
        self.fields = list(fields)
        self.sizes = [f.num_scenes for f in self.fields]
        self.num_scenes = sum(self.sizes)
        self.bound = max(f.bound for f in self.fields)

    def query(self, points: Tensor) -> FieldOutput:
        """points [S, N, 3] split by scene count -> concatenated FieldOutput [S, N, ...]."""
        outs = [f.query(p) for f, p in zip(self.fields, points.split(self.sizes), strict=True)]
        return FieldOutput(torch.cat([o.sigma for o in outs]), torch.cat([o.rgb for o in outs]))

    def background(self, dirs: Tensor) -> Tensor:
        parts = dirs.split(self.sizes)
        return torch.cat([f.background(d) for f, d in zip(self.fields, parts, strict=True)])
