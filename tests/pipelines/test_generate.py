"""`hyperfields generate` writes every requested file and fails clearly on bad input."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest
import trimesh
from _cli_run import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from _train_tiny import save_tiny_student  # noqa: E402


@pytest.fixture
def student(hyperfields_home: Path) -> str:
    return save_tiny_student()


def test_generate_writes_every_file(
    student: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    args = [
        "generate",
        "yarn pot",
        "a red bowl",
        "--student",
        student,
        "--out",
        str(out),
        "--res",
        "24",
        "--frames",
        "4",
        "--device",
        "cpu",
        "--save-frames",
        "--mesh-res",
        "32",
    ]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    for slug in ("yarn_pot", "a_red_bowl"):
        folder = out / slug
        assert (folder / "sheet.png").is_file()
        assert len(list((folder / "frames").glob("*.png"))) == 4
        frames = iio.imread(folder / "turntable.mp4")
        assert frames.shape[0] == 4
        assert iio.imread(folder / "depth.mp4").shape[0] == 4
        mesh = trimesh.load(folder / "mesh.glb", force="mesh")
        assert len(mesh.vertices) > 0


@pytest.mark.parametrize("mesh,video", [("ply", "gif"), ("obj", "none")])
def test_generate_formats(
    student: str, tmp_path: Path, mesh: str, video: str, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "o"
    args = [
        "generate",
        "a red bowl",
        "--student",
        student,
        "--out",
        str(out),
        "--res",
        "16",
        "--frames",
        "3",
        "--device",
        "cpu",
        "--mesh-res",
        "32",
        "--mesh",
        mesh,
        "--video",
        video,
    ]
    assert cli(capsys, *args)[0] == 0
    folder = out / "a_red_bowl"
    assert (folder / f"mesh.{mesh}").is_file()
    assert trimesh.load(folder / f"mesh.{mesh}", force="mesh").vertices.shape[0] > 0
    assert (folder / "turntable.gif").is_file() == (video == "gif")
    assert not (folder / "turntable.mp4").exists()


def test_generate_errors(student: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = cli(
        capsys, "generate", "yarn pot", "--student", "nope@v3", "--out", str(tmp_path)
    )
    assert code == 1 and "nope" in err
    code, _, err = cli(capsys, "generate", "   ", "--student", student, "--out", str(tmp_path))
    assert code == 2 and "empty" in err
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a file as the folder
            target = tmp_path / "file"
            target.write_text("")
            locked = target / "sub"
        args = [
            "generate",
            "yarn pot",
            "--student",
            student,
            "--out",
            str(locked),
            "--device",
            "cpu",
        ]
        code, _, err = cli(capsys, *args)
        assert code == 1 and "cannot write" in err
    finally:
        os.chmod(tmp_path / "locked", 0o700)
