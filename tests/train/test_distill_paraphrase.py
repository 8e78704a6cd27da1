"""`distill` prompt paraphrasing: pack scenes train on all their attribute's phrasings.

The pure helpers (phrasings, prompt_variants, pick_variants) are checked directly; two tiny
end-to-end runs spy on the texts the student is fed: with paraphrasing the chosen scenes are
the same as without, each fed one of its own phrasings (some not the pack's text); without,
exactly the pack's prompts of the scenes the step's RNG chose, as before the option existed.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from _cli_run import cli
from _train_tiny import TWO_PROMPTS, tiny_run

import hyperfields_cli.train.distill as distill_mod
from hyperfields_cli.artifacts import ArtifactStore
from hyperfields_cli.config import DistillConfig
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.synthetic.scene import SceneSpec
from hyperfields_cli.text.batch import TextBatch
from hyperfields_cli.train.distill import (
    distill,
    load_teachers,
    phrasings,
    pick_variants,
    prompt_variants,
    scene_index,
    step_seed,
)

SOLO = """
name = "solo"
split = "custom"
[[prompts]]
text = "a knitted yarn vase"
shape = "vase"
attribute = "yarn"
"""
ITERS = 5
CANONICAL = ["a red bowl", "a blue plate", "a knitted yarn vase"]


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """Two procedural packs (3 exact teachers: red bowl, blue plate, yarn vase)."""
    (tmp_path / "duo.toml").write_text(TWO_PROMPTS)
    (tmp_path / "solo.toml").write_text(SOLO)
    path = tmp_path / "teachers.toml"
    path.write_text(
        "".join(f'[[teachers]]\npack = "{tmp_path / n}.toml"\n' for n in ("duo", "solo"))
    )
    return path


def _teachers(manifest: Path) -> list[distill_mod.Teacher]:
    m = distill_mod.read_manifest(manifest)
    return load_teachers(m, ArtifactStore(manifest.parent / "store"), torch.device("cpu"))


def test_phrasings_put_the_pack_text_first_without_duplicates() -> None:
    red_bowl = SceneSpec("bowl", "red")
    assert phrasings(red_bowl, "a red bowl") == [
        "a red bowl",
        "a bowl that is red",
        "a red-colored bowl",
    ]
    assert phrasings(SceneSpec("chair", "orange"), "an orange chair")[0] == "an orange chair"
    assert "a orange chair" not in phrasings(SceneSpec("chair", "orange"), "an orange chair")
    custom = phrasings(red_bowl, "a shiny red bowl")  # a text that is no phrasing: kept first
    assert custom[0] == "a shiny red bowl" and len(custom) == 4
    yarn = phrasings(SceneSpec("vase", "yarn"), "a knitted yarn vase")
    assert yarn == ["a knitted yarn vase", "a vase made of yarn", "a yarn vase"]


def test_prompt_variants_keep_canonical_rows_first(manifest: Path) -> None:
    teachers = _teachers(manifest)
    scenes = scene_index(teachers)
    texts, variants = prompt_variants(teachers, scenes, paraphrase=True)
    assert texts[: len(scenes)] == CANONICAL  # rows 0..n-1 exactly as without paraphrasing
    assert len(texts) == len(set(texts)) == 3 + 3 + 3
    for j, rows in enumerate(variants):
        spec = teachers[scenes[j][0]].specs[scenes[j][1]]
        assert rows[0] == j
        assert [texts[r] for r in rows] == phrasings(spec, CANONICAL[j])
    plain, singles = prompt_variants(teachers, scenes, paraphrase=False)
    assert plain == CANONICAL and singles == [[0], [1], [2]]


def test_prompt_variants_skip_another_scenes_prompt(tmp_path: Path) -> None:
    """A phrasing that is another scene's pack text would teach that text two scenes."""
    clash = tmp_path / "clash.toml"
    clash.write_text(
        '[[prompts]]\ntext = "a red bowl"\nshape = "bowl"\nattribute = "red"\n'
        '[[prompts]]\ntext = "a bowl that is red"\nshape = "bowl"\nattribute = "blue"\n'
    )
    (tmp_path / "t.toml").write_text(f'[[teachers]]\npack = "{clash}"\n')
    teachers = _teachers(tmp_path / "t.toml")
    scenes = scene_index(teachers)
    texts, variants = prompt_variants(teachers, scenes, paraphrase=True)
    assert texts[:2] == ["a red bowl", "a bowl that is red"]
    assert 1 not in variants[0]  # the blue bowl's text is not a red-bowl phrasing
    assert [texts[r] for r in variants[0]] == ["a red bowl", "a red-colored bowl"]


def test_pick_variants_is_seeded_and_reaches_every_phrasing() -> None:
    variants = [[0, 3, 4], [1], [2, 5]]
    picks = [pick_variants(random.Random(s), [0, 1, 2], variants) for s in range(200)]
    assert picks == [pick_variants(random.Random(s), [0, 1, 2], variants) for s in range(200)]
    assert all(p[0] in (0, 3, 4) and p[1] == 1 and p[2] in (2, 5) for p in picks)
    assert {p[0] for p in picks} == {0, 3, 4} and {p[2] for p in picks} == {2, 5}
    assert pick_variants(random.Random(0), [2, 0], variants)[0] in (2, 5)  # follows idx order


def _spy_run(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paraphrase: bool
) -> tuple[list[list[str]], object]:
    """Distill ITERS tiny steps; the texts fed to the student at each training step."""
    fed: list[list[str]] = []
    scene_field = HyperFieldsModel.scene_field

    def spy(self: HyperFieldsModel, text: TextBatch, *args: object, **kw: object) -> object:
        if torch.is_grad_enabled():  # training steps only, not the no-grad evaluation
            fed.append(list(text.prompts))
        return scene_field(self, text, *args, **kw)

    monkeypatch.setattr(HyperFieldsModel, "scene_field", spy)
    cfg = DistillConfig(
        teachers=manifest,
        name="para" if paraphrase else "plain",
        iters=ITERS,
        meta_batch=2,
        paraphrase=paraphrase,
        **tiny_run(tmp_path / f"run-{paraphrase}"),
    )
    art = distill(cfg)
    assert len(fed) == ITERS
    return fed, art


def _chosen(step: int) -> list[int]:
    """The scenes step `step` trains on, as drawn before paraphrasing existed."""
    return sorted(random.Random(step_seed(0, step)).sample(range(len(CANONICAL)), 2))


def test_distill_paraphrase_feeds_phrasings(
    manifest: Path, tmp_path: Path, hyperfields_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fed, art = _spy_run(manifest, tmp_path, monkeypatch, paraphrase=True)
    teachers = _teachers(manifest)
    specs = [t.specs[li] for t, li in ((teachers[ti], li) for ti, li, _ in scene_index(teachers))]
    for step, texts in enumerate(fed):
        want = _chosen(step)  # same scenes as without paraphrasing, each one of its phrasings
        assert all(t in phrasings(specs[j], CANONICAL[j]) for t, j in zip(texts, want, strict=True))
    used = {t for texts in fed for t in texts}
    assert used - set(CANONICAL), f"only canonical prompts were trained: {used}"
    assert art.manifest.prompts == CANONICAL
    assert art.manifest.metrics["prompt_texts"] == 9
    assert art.manifest.config["paraphrase"] is True


def test_distill_without_paraphrase_keeps_pack_prompts(
    manifest: Path, tmp_path: Path, hyperfields_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fed, art = _spy_run(manifest, tmp_path, monkeypatch, paraphrase=False)
    assert fed == [[CANONICAL[j] for j in _chosen(step)] for step in range(ITERS)]
    assert art.manifest.prompts == CANONICAL
    assert art.manifest.metrics["prompt_texts"] == 3


def test_cli_no_paraphrase_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[DistillConfig] = []
    monkeypatch.setattr(distill_mod, "distill", lambda cfg: seen.append(cfg))
    teachers = tmp_path / "t.toml"
    for flag, want in (("--no-paraphrase", False), ("--paraphrase", True), (None, True)):
        args = ["distill", "-t", str(teachers), *([flag] if flag else [])]
        code, _, err = cli(capsys, *args)
        assert code == 0, err
        assert seen.pop().paraphrase is want
