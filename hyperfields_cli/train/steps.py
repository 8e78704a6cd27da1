"""One training step's rendering: rays from a random camera, the same samples for the model
being trained and its target, composited colours compared in image space.

Teaching from the procedural world and distilling from teacher NeRFs are the same
computation here: the target is any RadianceField (analytic scenes or a frozen teacher),
queried at exactly the student's ray samples, as the paper's distillation does.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, Field
from torch import Tensor

from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.field.scene_field import SceneField
from hyperfields_cli.field.stack import StackedField
from hyperfields_cli.host import to_device
from hyperfields_cli.hypernet.model import ProbeConfig, sample_probe_points
from hyperfields_cli.render.cameras import OrbitRange, camera_rays, random_orbit_cameras
from hyperfields_cli.render.composite import RenderOutput, composite, opacity_entropy
from hyperfields_cli.render.sampling import ray_aabb, stratified_t
from hyperfields_cli.synthetic.scene import ProceduralScenes


class RayConfig(BaseModel):
    """How one step looks at its scenes."""

    image_size: int = Field(64, ge=4, description="side of the random camera's image")
    rays_per_step: int = Field(4096, ge=16, description="pixels drawn from that image")
    num_samples: int = Field(96, ge=8, description="stratified samples per ray")
    radius: tuple[float, float] = (1.8, 2.6)
    polar: tuple[float, float] = (20.0, 100.0)
    fov: tuple[float, float] = (35.0, 50.0)
    entropy_weight: float = Field(1e-3, ge=0)
    volume_weight: float = Field(
        0.0, ge=0, description="weight of the colour MSE at random points in the volume"
    )
    volume_points: int = Field(4096, ge=1, description="points per scene for that term")
    volume_radius: float = Field(0.8, gt=0, description="ball the points are drawn from")
    volume_sampling: Literal["ball", "surfaces"] = Field(
        "ball",
        description="where the volume term looks: uniform in a ball, or at the ray samples "
        "where any of the step's teachers has its surface (so each scene is taught its colour "
        "on the other scenes' surfaces)",
    )

    def orbit(self) -> OrbitRange:
        return OrbitRange(radius=self.radius, polar=self.polar, fov=self.fov)


def random_rays(
    cfg: RayConfig, device: torch.device, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """One random orbit camera -> a random subset of its pixels' rays: origins, dirs [R, 3]."""
    cams = random_orbit_cameras(1, cfg.image_size, ranges=cfg.orbit(), generator=generator)
    n_pix = cfg.image_size**2
    if cfg.rays_per_step < n_pix:
        flat = torch.randperm(n_pix, generator=generator)[: cfg.rays_per_step]
        pix = torch.stack([flat % cfg.image_size, flat // cfg.image_size], -1).float()[None]
        origins, dirs = camera_rays(cams, pix)
    else:
        origins, dirs = camera_rays(cams)
    return to_device(origins[0], device), to_device(dirs[0], device)  # [R, 3] each


def render_shared(
    field: RadianceField,
    points: Tensor,
    t: Tensor,
    deltas: Tensor,
    dirs: Tensor,
    keep_weights: bool = False,
) -> RenderOutput:
    """Render `field` at precomputed shared samples: points [R, K, 3] -> [S, R, ...]."""
    s, (r, k) = field.num_scenes, t.shape
    out = field.query(points.reshape(1, -1, 3).expand(s, -1, -1))
    bg = field.background(dirs[None].expand(s, -1, -1))
    return composite(
        out.sigma.reshape(s, r, k), out.rgb.reshape(s, r, k, 3), t, deltas, bg, keep_weights
    )


def match_target_step(
    model_field: RadianceField,
    target: RadianceField,
    cfg: RayConfig,
    device: torch.device,
    generator: torch.Generator | None = None,
    volume_scenes: Tensor | None = None,
) -> dict[str, Tensor]:
    """Image-space MSE between `model_field` and `target` at the same ray samples, plus
    (cfg.volume_weight > 0) the colour MSE at random volume points for the scenes marked in
    volume_scenes [S] bool (default all): see `volume_colour_mse`."""
    origins, dirs = random_rays(cfg, device, generator)
    near, far, _ = ray_aabb(origins, dirs, model_field.bound)
    t, deltas = stratified_t(near, far, cfg.num_samples, perturb=True)
    points = origins[:, None] + dirs[:, None] * t[..., None]  # [R, K, 3]
    surfaces = cfg.volume_weight > 0 and cfg.volume_sampling == "surfaces"
    with torch.no_grad():
        want = render_shared(target, points, t, deltas, dirs, keep_weights=surfaces)
    got = render_shared(model_field, points, t, deltas, dirs)
    mse = torch.mean((got.rgb - want.rgb) ** 2)
    loss = mse + cfg.entropy_weight * opacity_entropy(got.opacity)
    out = {"loss": loss, "mse": mse.detach(), "psnr": psnr_from_mse(mse.detach())}
    if cfg.volume_weight > 0:
        at = surface_points(want.weights, points, cfg.volume_points) if surfaces else None
        vol = volume_colour_mse(model_field, target, cfg, device, generator, volume_scenes, at)
        out["loss"] = loss + cfg.volume_weight * vol
        out["volume_mse"] = vol.detach()
    return out


def volume_colour_mse(
    model_field: RadianceField,
    target: RadianceField,
    cfg: RayConfig,
    device: torch.device,
    generator: torch.Generator | None = None,
    scenes: Tensor | None = None,
    points: Tensor | None = None,
) -> Tensor:
    """Colour MSE at points [P, 3] (default: uniform in a ball), for the marked scenes.

    Why: rays only see a scene's colour on its own surface, so a material worn by some shapes
    is never shown where another shape's surface lies, and a student cannot know it there
    (issue #6). An exact teacher (the procedural world) has a colour at every point: its
    material shaded with its shape's normal field (`ProceduralScenes.colour_field`). A student
    whose MLP outputs albedo and shade ("albedo_shade") is taught the bare albedo instead,
    which for most materials does not depend on the shape at all. Teacher NeRFs have no
    meaningful colour in empty space, so callers mark only exact teachers' scenes.
    """
    s = model_field.num_scenes
    if points is None:  # [P, 3] uniform in the ball, drawn as the probe points are
        ball = ProbeConfig(num_points=cfg.volume_points, radius=cfg.volume_radius)
        points = sample_probe_points(ball, cfg.volume_radius, generator=generator, device=device)
    pts = points[None].expand(s, -1, -1)  # [S, P, 3]
    albedo = isinstance(model_field, SceneField) and model_field.mlp.colour_model != "rgb"
    with torch.no_grad():
        want = teacher_colour_field(target, pts, lit=not albedo)  # [S, P, 3]
    got = model_field.albedo(pts) if albedo else model_field.query(pts).rgb  # [S, P, 3]
    err = ((got - want) ** 2).mean(dim=(1, 2))  # [S]
    if scenes is None:
        return err.mean()
    w = to_device(scenes.to(err.dtype), err.device)  # [S]
    return (err * w).sum() / w.sum().clamp_min(1.0)


def teacher_colour_field(target: RadianceField, points: Tensor, lit: bool = True) -> Tensor:
    """points [S, P, 3] -> [S, P, 3]: an exact teacher's colour (or albedo) everywhere, not
    only near its surface. Scenes of other teachers answer their queried rgb, which carries
    no such meaning: callers leave those scenes out of the loss."""
    if isinstance(target, ProceduralScenes):
        return target.colour_field(points, lit=lit)
    if isinstance(target, StackedField):
        parts = points.split(target.sizes)
        return torch.cat(
            [teacher_colour_field(f, p, lit) for f, p in zip(target.fields, parts, strict=True)]
        )
    return target.query(points).rgb


def surface_points(weights: Tensor, points: Tensor, n: int) -> Tensor:
    """The n ray samples [n, 3] with the largest compositing weight in any scene: the surfaces
    of every scene in the step (weights [S, R, K], points [R, K, 3]). A fixed count, so no
    host sync."""
    best = weights.amax(dim=0).flatten()  # [R*K]
    idx = torch.topk(best, min(n, best.numel())).indices
    return points.reshape(-1, 3)[idx]


def psnr_from_mse(mse: Tensor) -> Tensor:
    return -10.0 * torch.log10(mse.clamp_min(1e-10))
