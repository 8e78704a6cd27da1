"""`distill` on tiny teachers: the loss falls and the student reproduces its teachers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _train_tiny import tiny_rays, tiny_run

from hyperfields_cli.config import DistillConfig, TeachConfig
from hyperfields_cli.errors import UsageError
from hyperfields_cli.train.distill import distill
from hyperfields_cli.train.teach import teach

SOLO = """
name = "solo"
split = "custom"
[[prompts]]
text = "a green vase"
shape = "vase"
attribute = "green"
"""


def _teach(pack: Path, run: Path) -> str:
    cfg = TeachConfig(
        prompt_pack=str(pack),
        iters=40,
        **tiny_run(run),
    )
    return teach(cfg).ref


def test_distill_two_teachers(
    two_prompt_pack: Path, hyperfields_home: Path, tmp_path: Path
) -> None:
    solo = tmp_path / "solo.toml"
    solo.write_text(SOLO)
    refs = [_teach(two_prompt_pack, tmp_path / "t1"), _teach(solo, tmp_path / "t2")]
    manifest = tmp_path / "teachers.toml"
    manifest.write_text('name = "pupil"\n' + "".join(f'[[teachers]]\nref = "{r}"\n' for r in refs))
    cfg = DistillConfig(
        teachers=manifest,
        iters=80,
        **tiny_run(tmp_path / "s", eval_views=2),
    )
    art = distill(cfg)
    assert art.kind == "student" and art.name == "pupil"
    assert sorted(art.manifest.prompts) == sorted(["a red bowl", "a blue plate", "a green vase"])
    assert {p.ref for p in art.manifest.parents} == set(refs)
    assert all(len(p.sha256) == 64 for p in art.manifest.parents)
    hist = json.loads((tmp_path / "s" / "checkpoint" / "state.json").read_text())["history"]
    losses = [h["loss"] for h in hist]
    assert sum(losses[-15:]) / 15 < 0.5 * sum(losses[:15]) / 15
    assert art.manifest.metrics["psnr_vs_teacher_mean"] > 20.0


def test_distill_rejects_bad_manifest(tmp_path: Path, hyperfields_home: Path) -> None:
    bad = tmp_path / "t.toml"
    bad.write_text("[[teachers]]\nref = 'a@v1'\npack = 'bowls'\n")
    with pytest.raises(UsageError, match="either ref or pack"):
        distill(DistillConfig(teachers=bad, iters=1, device="cpu"))


@pytest.mark.parametrize("colour_model", ["rgb", "albedo_shade"])
def test_distill_routed_student_from_exact_teachers(
    two_prompt_pack: Path, hyperfields_home: Path, tmp_path: Path, colour_model: str
) -> None:
    """The routed arch trains end to end (procedural teachers, with the volume colour term)
    and is saved as routed, with its colour model."""
    manifest = tmp_path / "teachers.toml"
    manifest.write_text(f'name = "routed"\n[[teachers]]\npack = "{two_prompt_pack}"\n')
    cfg = DistillConfig(
        teachers=manifest,
        iters=60,
        arch="routed",
        colour_model=colour_model,
        **tiny_run(tmp_path / "s", eval_views=1, rays=tiny_rays(volume_weight=0.5)),
    )
    art = distill(cfg)
    saved = json.loads((art.path / "config.json").read_text())
    assert saved["arch"] == "routed" and saved["mlp"]["colour_model"] == colour_model
    assert saved["mlp"]["out_dim"] == (5 if colour_model == "albedo_shade" else 4)
    hist = json.loads((tmp_path / "s" / "checkpoint" / "state.json").read_text())["history"]
    losses = [h["loss"] for h in hist]
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10
    assert all("volume_mse" in h for h in hist)
