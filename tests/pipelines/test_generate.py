"""`hyperfields generate` writes every requested file and fails clearly on bad input."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from _train_tiny import save_tiny_student  # noqa: E402

from hyperfields_cli.cli import main  # noqa: E402


@pytest.fixture
def student(hyperfields_home: Path) -> str:
    return save_tiny_student()


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code)


def test_generate_writes_every_file(student: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = _run(
        [
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
    )
    assert code == 0
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
def test_generate_formats(student: str, tmp_path: Path, mesh: str, video: str) -> None:
    out = tmp_path / "o"
    assert (
        _run(
            [
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
        )
        == 0
    )
    folder = out / "a_red_bowl"
    assert (folder / f"mesh.{mesh}").is_file()
    assert trimesh.load(folder / f"mesh.{mesh}", force="mesh").vertices.shape[0] > 0
    assert (folder / "turntable.gif").is_file() == (video == "gif")
    assert not (folder / "turntable.mp4").exists()


def test_generate_errors(student: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert _run(["generate", "yarn pot", "--student", "nope@v3", "--out", str(tmp_path)]) == 1
    assert "nope" in capsys.readouterr().err
    assert _run(["generate", "   ", "--student", student, "--out", str(tmp_path)]) == 2
    assert "empty" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a file as the folder
            target = tmp_path / "file"
            target.write_text("")
            locked = target / "sub"
        assert (
            _run(
                [
                    "generate",
                    "yarn pot",
                    "--student",
                    student,
                    "--out",
                    str(locked),
                    "--device",
                    "cpu",
                ]
            )
            == 1
        )
        assert "cannot write" in capsys.readouterr().err
    finally:
        os.chmod(tmp_path / "locked", 0o700)
