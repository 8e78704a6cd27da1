"""Shading modes: albedo as-is (the default, what the paper renders) or lambertian.

Lambertian shading needs a surface normal; a NeRF has none, so it is taken from the density
gradient, n = -grad(sigma) / |grad(sigma)|, by autograd at every queried point. The light is
fixed in the world (it does not follow the camera), so shape reads consistently across views.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from hyperfields_cli.errors import UsageError
from hyperfields_cli.field.base import FieldOutput, FieldWrapper, RadianceField

Shading = Literal["albedo", "lambertian"]

DEFAULT_LIGHT = (0.3, -0.4, 0.866)
"""Direction towards the light: from above, slightly in front of the default cameras."""


class LambertianField(FieldWrapper):
    """Wraps a field: rgb = albedo * (ambient + (1 - ambient) * max(0, n . l)).

    When grad is enabled (training) the normals keep their graph (double backward through
    the field); otherwise everything returned is detached.
    """

    def __init__(
        self,
        field: RadianceField,
        light_dir: tuple[float, float, float] | None = None,
        ambient: float = 0.25,
    ) -> None:
        super().__init__(field)
        self.light = torch.nn.functional.normalize(
            torch.tensor(light_dir or DEFAULT_LIGHT, dtype=torch.float32), dim=0
        )
        self.ambient = ambient

    def normals(self, points: Tensor) -> tuple[FieldOutput, Tensor]:
        """points [S, N, 3] -> field output and unit normals [S, N, 3] (outward)."""
        keep_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            p = points if points.requires_grad else points.detach().requires_grad_(True)
            out = self.base.query(p)
            (g,) = torch.autograd.grad(out.sigma.sum(), p, create_graph=keep_graph)
        n = -torch.nn.functional.normalize(g, dim=-1, eps=1e-12)
        if not keep_graph:
            out, n = FieldOutput(out.sigma.detach(), out.rgb.detach()), n.detach()
        return out, n

    def query(self, points: Tensor) -> FieldOutput:
        out, n = self.normals(points)
        light = self.light.to(device=n.device, dtype=n.dtype)
        lam = (n * light).sum(dim=-1).clamp_min(0.0)  # [S, N]
        shade = self.ambient + (1.0 - self.ambient) * lam
        return FieldOutput(out.sigma, out.rgb * shade[..., None])


def shaded(
    field: RadianceField,
    mode: Shading = "albedo",
    light_dir: tuple[float, float, float] | None = None,
) -> RadianceField:
    """The field as seen under `mode` (albedo returns it unchanged)."""
    if mode == "albedo":
        return field
    if mode == "lambertian":
        return LambertianField(field, light_dir)
    raise UsageError(f"unknown shading {mode!r}", "use albedo or lambertian")
