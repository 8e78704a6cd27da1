"""`hyperfields packs`: list (default), show, render, dataset export, sheet, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import pytest
from _cli_run import cli, one_error


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def test_list_is_the_default(capsys) -> None:
    code, out, _ = cli(capsys, "packs")
    assert code == 0
    for name in ("bowls", "pots", "all_train", "zero_shot", "ood"):
        assert name in out
    code, out2, _ = cli(capsys, "packs", "list")
    assert code == 0 and out2 == out


def test_show(capsys, tmp_path: Path) -> None:
    code, out, _ = cli(capsys, "packs", "show", "zero_shot")
    assert code == 0 and "a pot made of yarn" in out and "zero_shot" in out
    mine = tmp_path / "mine.toml"
    mine.write_text('prompts = ["a gold blender", "a glowing cube"]\n')
    code, out, _ = cli(capsys, "packs", "show", str(mine))
    assert code == 0 and "a glowing cube" in out and "custom" in out


def test_render_strips(capsys, tmp_path: Path) -> None:
    code, out, _ = cli(
        capsys,
        "packs",
        "render",
        "bowls",
        "--out",
        str(tmp_path),
        "--size",
        "16",
        "--views",
        "2",
        "--samples",
        "24",
        "-p",
        "blue",
        "--device",
        "cpu",
    )
    assert code == 0, out
    img = iio.imread(tmp_path / "blue_bowl.png")
    assert img.shape == (16, 32, 3)
    assert len(list(tmp_path.glob("*.png"))) == 1


def test_render_dataset(capsys, tmp_path: Path) -> None:
    code, _, err = cli(
        capsys,
        "packs",
        "render",
        "zero_shot",
        "--out",
        str(tmp_path),
        "--dataset",
        "--views",
        "2",
        "--test-views",
        "1",
        "--size",
        "12",
        "--samples",
        "24",
        "-p",
        "yarn",
        "--device",
        "cpu",
    )
    assert code == 0, err
    data = json.loads((tmp_path / "yarn_pot" / "transforms_train.json").read_text())
    assert len(data["frames"]) == 2 and data["scene"]["prompt"] == "a pot made of yarn"
    assert (tmp_path / "yarn_pot" / "transforms_test.json").is_file()


def test_sheet(capsys, tmp_path: Path) -> None:
    out = tmp_path / "world.png"
    code, _, err = cli(
        capsys,
        "packs",
        "sheet",
        "--out",
        str(out),
        "--size",
        "32",
        "--samples",
        "16",
        "--device",
        "cpu",
    )
    assert code == 0, err
    assert iio.imread(out).shape[1] >= 10 * 32


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["packs", "show", "bowlz"], 1, "unknown prompt pack 'bowlz'"),
        (["packs", "show", "missing/pack.toml"], 1, "not found"),
        (["packs", "render", "bowls", "--out", "x", "-p", "zebra"], 2, "no prompt"),
    ],
)
def test_errors_are_one_line(capsys, args: list[str], code: int, needle: str) -> None:
    got, _, err = cli(capsys, *args)
    assert got == code and needle in one_error(err)


def test_malformed_pack_names_file_and_line(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[[prompts]]\ntext = "a"\nshape = "chiar"\nattribute = "red"\n')
    code, _, err = cli(capsys, "packs", "show", str(bad))
    assert code == 2 and f"{bad}:4:" in one_error(err) and "chiar" in err


def test_help_texts_have_examples(capsys) -> None:
    for cmd in (
        ["packs"],
        ["packs", "list"],
        ["packs", "show"],
        ["packs", "render"],
        ["packs", "sheet"],
    ):
        code, out, _ = cli(capsys, *cmd, "--help")
        assert code == 0 and "Example" in out, cmd
