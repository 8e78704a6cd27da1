"""`hyperfields finetune` from the command line: writes the NeRF, renders, fails clearly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _cli_run import cli
from _threads import single_thread  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from _train_tiny import save_tiny_student  # noqa: E402

from hyperfields_cli.artifacts import ArtifactStore  # noqa: E402


@pytest.fixture
def student(hyperfields_home: Path) -> str:
    return save_tiny_student()


SMALL = ["--steps", "3", "--rays-per-step", "64", "--samples", "16", "--eval-size", "12",
         "--res", "16", "--frames", "2", "--device", "cpu"]  # fmt: skip


def test_finetune_cli_writes_nerf(
    student: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    args = ["finetune", "a gold blender", "--student", student, "--out", str(out), *SMALL]
    code, printed, err = cli(capsys, *args, "--mesh", "ply", "--mesh-res", "32", "--video", "gif")
    assert code == 0, err
    assert "saved nerf" in printed and "gold-blender@v1" in printed
    folder = out / "a_gold_blender"
    assert {p.name for p in folder.iterdir()} >= {"sheet.png", "turntable.gif", "mesh.ply"}
    art = ArtifactStore().resolve("gold-blender")
    assert art.kind == "nerf" and art.manifest.parents[0].ref == student
    cfg = art.manifest.config
    assert cfg["rays"]["rays_per_step"] == 64 and cfg["rays"]["num_samples"] == 16

    code, _, err = cli(capsys, *args, "--from-scratch", "--name", "base", "--mesh", "none")
    assert code == 0, err
    assert ArtifactStore().resolve("base").manifest.metrics["init"] == "scratch"


@pytest.mark.parametrize(
    "extra,message",
    [
        (["a cozy cabin", "--guidance", "synthetic"], "does not name a procedural scene"),
        (["a gold blender", "--guidance", "views"], "needs --views"),
        (["a gold blender", "--guidance", "paint"], "guidance"),
        (["a gold blender", "--optimise", "everything"], "optimise"),
        (["a gold blender", "--student", "nobody@v1"], "no artifact named"),
    ],
)
def test_finetune_cli_errors(
    student: str,
    tmp_path: Path,
    capsys,
    extra: list[str],
    message: str,  # noqa: ANN001
) -> None:
    args = ["finetune", *extra, "--out", str(tmp_path / "o"), *SMALL]
    if "--student" not in extra:
        args += ["--student", student]
    code, _, err = cli(capsys, *args)
    assert code in (1, 2) and message in err, err
    assert "Traceback" not in err


def test_finetune_help(capsys) -> None:  # noqa: ANN001
    code, text, _ = cli(capsys, "finetune", "--help")
    assert code == 0
    assert "Example: hyperfields finetune" in text and "--from-scratch" in text
