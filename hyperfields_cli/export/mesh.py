"""Mesh export: density grid -> marching cubes -> vertex-coloured trimesh -> GLB / PLY / OBJ.

A radiance field has no surface, only density. We take the iso-surface sigma == threshold on a
regular grid over the scene cube and colour each vertex with the field's rgb there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import trimesh
from skimage.measure import marching_cubes

from hyperfields_cli.errors import UserError
from hyperfields_cli.export.images import prepare_output_path
from hyperfields_cli.field.base import RadianceField

MESH_SUFFIXES = (".glb", ".ply", ".obj")

# Why 10: rays in [-1, 1]^3 with ~128 samples step ~0.02, so sigma = 10 makes each sample about
# 20% opaque and a few samples in a row read as solid: the level is close to where the rendered
# surface appears. It is an absolute level because a fraction of max density would let a single
# spiky floater (common in NeRFs) move the whole surface. Fields with a softer density scale
# should pass `threshold` explicitly; the empty-field error says how high the density gets.
DEFAULT_THRESHOLD = 10.0


def _field_device(field: RadianceField) -> torch.device:
    """The device of the field's parameters (cpu for parameter-free analytic fields)."""
    if isinstance(field, torch.nn.Module):
        for t in field.parameters():
            return t.device
        for t in field.buffers():
            return t.device
    return torch.device("cpu")


def _query_scene(
    field: RadianceField, points: torch.Tensor, scene: int, with_rgb: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Query points [N, 3] for every scene (the field batches all S at once) and keep `scene`.

    The same points are broadcast to [S, N, 3] with expand (no copy). Hypernetwork fields run
    per-scene weights as one batched matmul and cannot answer a subset of scenes, so the other
    rows are computed and discarded; chunking accounts for that (see extract_mesh).
    """
    pts = points[None].expand(field.num_scenes, -1, -1)
    out = field.query(pts)
    sigma = torch.nan_to_num(out.sigma[scene].float(), nan=0.0, posinf=1e6, neginf=0.0)
    rgb = out.rgb[scene].float().clamp(0.0, 1.0) if with_rgb else None
    return sigma, rgb


def _density_grid(
    field: RadianceField, scene: int, resolution: int, chunk: int, device: torch.device
) -> np.ndarray:
    """sigma on resolution^3 grid points spanning [-bound, bound]^3 (ends included), as [x, y, z].

    Points are generated per chunk from flat indices so memory stays O(chunk), not O(res^3 x 3).
    """
    res, b = resolution, float(field.bound)
    axis = torch.linspace(-b, b, res, device=device)
    total = res**3
    grid = np.empty(total, dtype=np.float32)
    for start in range(0, total, chunk):
        idx = torch.arange(start, min(start + chunk, total), device=device)
        pts = torch.stack([axis[idx // (res * res)], axis[(idx // res) % res], axis[idx % res]], -1)
        sigma, _ = _query_scene(field, pts, scene, with_rgb=False)
        grid[start : start + idx.numel()] = sigma.cpu().numpy()
    return grid.reshape(res, res, res)


def extract_mesh(
    field: RadianceField,
    scene: int = 0,
    resolution: int = 128,
    threshold: float | None = None,
    chunk: int = 262144,
    device: torch.device | str | None = None,
) -> trimesh.Trimesh:
    """Marching-cubes mesh of one scene's iso-surface sigma == threshold, with vertex colours.

    - Grid: `resolution` points per axis over [-bound, bound]^3 in world units (z up), padded by
      one empty cell so surfaces touching the cube's faces still close (watertight output).
    - `threshold` defaults to DEFAULT_THRESHOLD (10, see there for why).
    - `chunk` caps field evaluations per query call summed over all S scenes: each call sends
      chunk // S points, since every scene is evaluated (see _query_scene).
    - `device` defaults to the device of the field's parameters.
    Vertex colours are the field's rgb at the vertices as uint8 RGBA (alpha 255).
    Raises UserError if no point of the scene is denser than the threshold.
    """
    if not 0 <= scene < field.num_scenes:
        raise UserError(f"scene {scene} is out of range: the field has {field.num_scenes} scenes")
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    level = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    dev = torch.device(device) if device is not None else _field_device(field)
    per_call = max(1, int(chunk) // max(1, field.num_scenes))
    b = float(field.bound)

    was_training = isinstance(field, torch.nn.Module) and field.training
    if was_training:
        field.eval()  # type: ignore[union-attr]
    try:
        with torch.no_grad():
            grid = _density_grid(field, scene, resolution, per_call, dev)
            peak = float(grid.max())
            if not peak > level:
                raise UserError(
                    f"the field is empty: scene {scene} has no density above {level:g} "
                    f"(max {peak:.3g}), so there is no surface to mesh",
                    hint="train longer, or pass a lower threshold",
                )
            padded = np.pad(grid, 1, mode="constant", constant_values=min(0.0, level - 1.0))
            # Density rises towards the inside; with skimage's winding rule 'ascent' is what
            # makes face normals point outwards (positive volume, checked in the tests).
            verts, faces, _, _ = marching_cubes(
                padded, level=level, gradient_direction="ascent", allow_degenerate=False
            )
            step = 2.0 * b / (resolution - 1)
            # Undo the pad and map index -> world. Where density touches the cube's faces the
            # crossing interpolates into the pad cell; the clip puts that cap on the face itself.
            verts = np.clip((verts - 1.0) * step - b, -b, b)
            colours = np.empty((len(verts), 4), dtype=np.uint8)
            colours[:, 3] = 255
            vt = torch.from_numpy(verts.astype(np.float32)).to(dev)
            for start in range(0, len(verts), per_call):
                _, rgb = _query_scene(field, vt[start : start + per_call], scene, with_rgb=True)
                colours[start : start + per_call, :3] = (
                    (rgb * 255.0 + 0.5).to(torch.uint8).cpu().numpy()  # type: ignore[union-attr]
                )
    finally:
        if was_training:
            field.train()  # type: ignore[union-attr]
    # process=False: marching cubes already shares vertices; keep colours aligned one-to-one.
    return trimesh.Trimesh(
        vertices=verts.astype(np.float64), faces=faces, vertex_colors=colours, process=False
    )


def _z_up_to_y_up(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Rotate -90 degrees about x, (x, y, z) -> (x, z, -y): glTF defines +Y as up."""
    out = mesh.copy()
    out.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1.0, 0.0, 0.0]))
    return out


def save_mesh(
    mesh: trimesh.Trimesh, path: str | os.PathLike[str], y_up: bool | None = None
) -> Path:
    """Write `.glb`, `.ply` or `.obj` (by suffix) through trimesh; returns the path.

    Vertex colours survive in GLB (COLOR_0) and PLY (uchar rgba); OBJ gets trimesh's
    "v x y z r g b" extension, which some viewers ignore. Our world is z up; `y_up` rotates to
    y up on write and defaults to True only for GLB, whose spec mandates +Y up (viewers would
    otherwise show the object lying on its side). The file is written to a temporary sibling
    and renamed so a failed export never leaves a half-written mesh.
    """
    p = prepare_output_path(path, MESH_SUFFIXES, "mesh")
    kind = p.suffix.lower()[1:]
    if y_up if y_up is not None else kind == "glb":
        mesh = _z_up_to_y_up(mesh)
    tmp = p.with_name(f".{p.stem}.partial{p.suffix}")
    try:
        mesh.export(file_obj=str(tmp), file_type=kind)
        os.replace(tmp, p)
    except OSError as e:
        raise UserError(f"cannot write mesh '{p}': {e}") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return p
