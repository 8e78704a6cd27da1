"""Built-in prompt packs parse and keep clean splits; bad packs give one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperfields_cli.errors import NotFoundError, UsageError
from hyperfields_cli.synthetic import ATTRIBUTES, SHAPES, SceneSpec, available_packs, load_pack
from hyperfields_cli.synthetic.packs import builtin_dir

SHAPE_PACKS = [
    "chairs",
    "pots",
    "toasters",
    "benches",
    "stools",
    "bowls",
    "vases",
    "skateboards",
    "knives",
    "plates",
]


def _scenes(name: str) -> set[SceneSpec]:
    pack = load_pack(name)
    assert all(p.scene is not None for p in pack.prompts), f"{name}: prompt without a scene"
    return {p.scene for p in pack.prompts if p.scene is not None}


def test_every_builtin_pack_parses() -> None:
    names = available_packs()
    assert set(SHAPE_PACKS) | {"all_train", "zero_shot", "ood"} <= set(names)
    for name in names:
        pack = load_pack(name)
        assert pack.name == name, "pack name must match its file name"
        assert len(set(pack.texts)) == len(pack.texts), f"{name}: duplicate prompts"
        assert pack.description


def test_shape_packs_are_five_training_prompts_of_one_shape() -> None:
    for name in SHAPE_PACKS:
        pack = load_pack(name)
        scenes = _scenes(name)
        assert pack.split == "train" and len(pack.prompts) == 5 and len(scenes) == 5
        assert len({s.shape for s in scenes}) == 1
        assert all(s.split == "train" for s in scenes)


def test_splits_are_disjoint_and_zero_shot_is_compositional() -> None:
    train = _scenes("all_train")
    teachers = set().union(*(_scenes(n) for n in SHAPE_PACKS))
    zero = _scenes("zero_shot")
    assert len(train) >= 50 and teachers <= train
    assert all(s.split == "train" for s in train)
    assert SceneSpec("pot", "yarn") in zero
    assert not zero & train, "a zero-shot combination appears in training"
    for s in zero:  # each part is seen in the teacher packs, never together
        assert any(t.shape == s.shape for t in teachers), s
        assert any(t.attribute == s.attribute for t in teachers), s
    for name in [n for n in available_packs() if load_pack(n).split == "train"]:
        assert not _scenes(name) & zero


def test_ood_pack_uses_reserved_shapes_or_attributes() -> None:
    ood = _scenes("ood")
    assert 6 <= len(ood) <= 12
    assert all(s.split == "ood" for s in ood)
    assert {s.shape for s in ood} & {k for k, v in SHAPES.items() if v.split == "ood"}
    assert {s.attribute for s in ood} & {k for k, v in ATTRIBUTES.items() if v.split == "ood"}
    assert not ood & _scenes("all_train")


def test_phrasing_varies() -> None:
    texts = load_pack("all_train").texts
    assert len({t.split()[0] + " " + t.split()[1] for t in texts}) > 10  # not one template
    assert any("made of" in t for t in texts) and any("that is" in t for t in texts)


def test_unknown_name_lists_available() -> None:
    with pytest.raises(NotFoundError) as exc:
        load_pack("bowlz")
    assert "bowlz" in exc.value.message and "bowls" in (exc.value.hint or "")
    with pytest.raises(NotFoundError, match="not found"):
        load_pack("no/such/pack.toml")


def test_custom_pack_by_path(tmp_path: Path) -> None:
    p = tmp_path / "mine.toml"
    p.write_text('description = "mine"\nprompts = ["a glowing cube", "a red bowl"]\n')
    pack = load_pack(str(p))
    assert pack.name == "mine" and pack.split == "custom" and pack.prompts[0].scene is None
    assert pack.prompts[1].scene_or_match() == SceneSpec("bowl", "red")
    assert load_pack(builtin_dir() / "bowls.toml").name == "bowls"


BAD = {
    "syntax": ('name = "x"\n[[prompts]]\ntext = "a red bowl\n', 3, "invalid TOML"),
    "shape": (
        'name = "x"\n\n[[prompts]]\ntext = "a"\nshape = "bowl"\nattribute = "red"\n\n'
        '[[prompts]]\ntext = "b"\nshape = "chiar"\nattribute = "red"\n',
        10,
        "chiar",
    ),
    "half": ('name = "x"\n[[prompts]]\ntext = "a"\nshape = "bowl"\n', 4, "both shape"),
    "key": ('name = "x"\n[[prompts]]\ntext = "a"\ncolour = "red"\n', 4, "colour"),
    "split": ('name = "x"\nsplit = "test"\nprompts = ["a"]\n', 2, "split"),
    "empty": ('name = "x"\nprompts = []\n', 2, "prompts"),
    "missing": ('name = "x"\n', 1, "prompts"),
    "top": ('name = "x"\nprompt = ["a"]\nprompts = ["a"]\n', 2, "prompt"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_pack_is_one_clear_error(tmp_path: Path, case: str) -> None:
    body, line, needle = BAD[case]
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(UsageError) as exc:
        load_pack(str(p))
    msg = exc.value.message
    assert msg.startswith(f"{p}:{line}: "), msg
    assert needle in msg and "\n" not in msg
