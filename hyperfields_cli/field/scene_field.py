"""A batch of NeRFs made from a shared grid plus per-scene MLP weights handed in from outside.

Whatever produced the weights (the hypernetwork, direct optimisation, a checkpoint), this is
the object the renderer queries. It holds references only; gradients flow back to the
producer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from hyperfields_cli.field.base import FieldOutput
from hyperfields_cli.field.grid import GridEncoding
from hyperfields_cli.field.mlp import SceneMLPConfig, decode_albedo, decode_outputs, scene_mlp


@dataclass
class SceneField:
    """S scenes: grid [shared], weights[i] [S, out_i, in_i], cond [S, C], background(dirs)."""

    grid: GridEncoding
    mlp: SceneMLPConfig
    weights: list[Tensor]
    cond: Tensor
    background_fn: Callable[[Tensor], Tensor] | nn.Module

    @property
    def num_scenes(self) -> int:
        return self.cond.shape[0]

    @property
    def bound(self) -> float:
        return self.grid.bound

    def query(self, points: Tensor) -> FieldOutput:
        """points [S, N, 3] -> FieldOutput(sigma [S, N], rgb [S, N, 3])."""
        feats = self.grid(points)  # [S, N, G]
        raw = scene_mlp(self.mlp, self.weights, feats, self.cond)
        sigma, rgb = decode_outputs(self.mlp, raw, points)
        return FieldOutput(sigma, rgb)

    def albedo(self, points: Tensor) -> Tensor:
        """points [S, N, 3] -> the colour logits' sigmoid [S, N, 3]: the albedo of an
        "albedo_shade" MLP (the unshaded rgb otherwise)."""
        return decode_albedo(scene_mlp(self.mlp, self.weights, self.grid(points), self.cond))

    def background(self, dirs: Tensor) -> Tensor:
        return self.background_fn(dirs)

    def select(self, index: Tensor | list[int]) -> SceneField:
        """The sub-batch of scenes at `index` (weights stay linked to their producer)."""
        return SceneField(
            self.grid,
            self.mlp,
            [w[index] for w in self.weights],
            self.cond[index],
            self.background_fn,
        )
