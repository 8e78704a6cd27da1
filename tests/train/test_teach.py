"""`teach` end to end on a tiny config: loss falls, artifact reloads and renders the same,
resume continues from the saved step."""

from __future__ import annotations

from pathlib import Path

import torch
from _train_tiny import tiny_run

from hyperfields_cli.artifacts import ArtifactStore
from hyperfields_cli.config import TeachConfig
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.render.cameras import turntable_cameras
from hyperfields_cli.render.renderer import render_image
from hyperfields_cli.text.cache import encode_prompts
from hyperfields_cli.train.teach import teach


def _cfg(pack: Path, iters: int, run_dir: Path, resume: bool = False) -> TeachConfig:
    return TeachConfig(
        prompt_pack=str(pack),
        iters=iters,
        resume=resume,
        **tiny_run(run_dir, eval_views=2, eval_size=24),
    )


def test_teach_learns_saves_and_reloads(
    two_prompt_pack: Path, hyperfields_home: Path, tmp_path: Path
) -> None:
    art = teach(_cfg(two_prompt_pack, 60, tmp_path / "run"))
    assert art.ref == "duo@v1" and art.kind == "teacher"
    assert art.manifest.prompts == ["a red bowl", "a blue plate"]
    losses = [r["loss"] for r in _history(tmp_path / "run")]
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10
    assert art.manifest.metrics["psnr_mean"] > 12.0
    assert (art.path / "samples" / "validation.png").is_file()

    reloaded = HyperFieldsModel.from_pretrained(ArtifactStore().resolve("duo@v1").path)
    text = encode_prompts(art.manifest.prompts, reloaded.config.text_encoder)
    cams = turntable_cameras(1, 16)
    a = render_image(reloaded.scene_field(text), cams, num_samples=32).rgb
    again = HyperFieldsModel.from_pretrained(art.path)
    b = render_image(again.scene_field(text), cams, num_samples=32).rgb
    assert torch.equal(a, b)


def _history(run_dir: Path) -> list[dict]:
    import json

    return json.loads((run_dir / "checkpoint" / "state.json").read_text())["history"]


def test_teach_resume_continues(
    two_prompt_pack: Path, hyperfields_home: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    teach(_cfg(two_prompt_pack, 8, run))
    art = teach(_cfg(two_prompt_pack, 14, run, resume=True))
    steps = [r["step"] for r in _history(run)]
    assert steps == list(range(1, 15))  # 1..8 from the first run, 9..14 after resume
    assert art.manifest.metrics["steps"] == 14
    assert art.version == "v2"
