"""Mesh export: analytic sphere field -> marching cubes -> coloured mesh -> GLB/PLY/OBJ."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from hyperfields_cli.errors import UserError
from hyperfields_cli.export import extract_mesh, save_mesh
from hyperfields_cli.field.base import FieldOutput, RadianceField

RES = 48
CELL = 2.0 / (RES - 1)


class SphereField:
    """S analytic scenes: sigma = 100 inside a per-scene radius, rgb = a per-scene colour."""

    bound = 1.0

    def __init__(self, radii: list[float], colours: list[tuple[float, float, float]]) -> None:
        self.num_scenes = len(radii)
        self.radii = torch.tensor(radii)
        self.colours = torch.tensor(colours)
        self.calls: list[tuple[int, ...]] = []

    def query(self, points: torch.Tensor) -> FieldOutput:
        assert points.shape[0] == self.num_scenes and points.shape[-1] == 3
        self.calls.append(tuple(points.shape))
        inside = points.norm(dim=-1) < self.radii[:, None]
        sigma = inside.float() * 100.0
        rgb = self.colours[:, None, :].expand(-1, points.shape[1], -1)
        return FieldOutput(sigma, rgb)

    def background(self, dirs: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(dirs)


@pytest.fixture(scope="module")
def sphere_mesh() -> trimesh.Trimesh:
    field = SphereField([0.5], [(1.0, 0.0, 0.0)])
    assert isinstance(field, RadianceField)
    return extract_mesh(field, resolution=RES, chunk=20000)


def test_sphere_mesh_geometry_and_colour(sphere_mesh: trimesh.Trimesh) -> None:
    radius = np.linalg.norm(sphere_mesh.vertices, axis=1)
    assert len(sphere_mesh.faces) > 500
    assert np.abs(radius - 0.5).max() < CELL
    assert sphere_mesh.is_watertight and sphere_mesh.is_winding_consistent
    assert sphere_mesh.volume == pytest.approx(4 / 3 * np.pi * 0.5**3, rel=0.1)  # > 0: outwards
    colours = sphere_mesh.visual.vertex_colors
    assert colours.shape == (len(sphere_mesh.vertices), 4)
    assert (colours == [255, 0, 0, 255]).all()


def test_scene_selection_and_chunking() -> None:
    field = SphereField([0.5, 0.3], [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
    mesh = extract_mesh(field, scene=1, resolution=24, chunk=1000)
    radius = np.linalg.norm(mesh.vertices, axis=1)
    assert np.abs(radius - 0.3).max() < 2.0 / 23
    assert (mesh.visual.vertex_colors == [0, 0, 255, 255]).all()
    assert all(c[1] <= 500 for c in field.calls)  # chunk bounds points summed over scenes
    with pytest.raises(UserError, match="out of range"):
        extract_mesh(field, scene=2, resolution=8)


def test_full_field_closes_at_the_cube() -> None:
    mesh = extract_mesh(SphereField([10.0], [(0.0, 1.0, 0.0)]), resolution=8)
    assert mesh.is_watertight
    assert np.abs(mesh.vertices).max() <= 1.0 + 1e-6


def test_empty_field_raises_user_error() -> None:
    with pytest.raises(UserError, match="empty"):
        extract_mesh(SphereField([0.0], [(1.0, 0.0, 0.0)]), resolution=16)
    with pytest.raises(UserError, match="empty"):  # sigma 100 everywhere inside, threshold above
        extract_mesh(SphereField([0.5], [(1.0, 0.0, 0.0)]), resolution=16, threshold=200.0)


@pytest.mark.parametrize("suffix", [".glb", ".ply", ".obj"])
def test_save_mesh_round_trip(sphere_mesh: trimesh.Trimesh, tmp_path, suffix: str) -> None:
    path = save_mesh(sphere_mesh, tmp_path / "sub" / f"m{suffix}")
    assert path.exists() and not list(path.parent.glob(".*partial*"))
    back = trimesh.load(path, force="mesh", process=False)
    assert len(back.vertices) == len(sphere_mesh.vertices)
    assert len(back.faces) == len(sphere_mesh.faces)
    if suffix == ".glb":  # written y up: (x, y, z) -> (x, z, -y)
        expected = sphere_mesh.vertices[:, [0, 2, 1]] * [1, 1, -1]
        np.testing.assert_allclose(back.vertices, expected, atol=1e-5)
    else:
        np.testing.assert_allclose(back.vertices, sphere_mesh.vertices, atol=1e-5)
    if suffix in (".glb", ".ply"):
        assert (back.visual.vertex_colors[:, :3] == [255, 0, 0]).all()


def test_save_mesh_unknown_suffix(sphere_mesh: trimesh.Trimesh, tmp_path) -> None:
    with pytest.raises(UserError, match="unknown file type"):
        save_mesh(sphere_mesh, tmp_path / "m.stl")
