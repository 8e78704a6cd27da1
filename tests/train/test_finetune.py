"""`finetune` on a tiny student: it improves on the zero-shot NeRF, saves a `nerf` artifact
whose manifest names the student, reloads exactly, and both starts share one architecture."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
from _train_tiny import save_tiny_student, tiny_optim, tiny_rays

from hyperfields_cli.artifacts import ArtifactStore
from hyperfields_cli.errors import UsageError
from hyperfields_cli.guidance.sds import SDSConfig
from hyperfields_cli.hypernet.finetuned import FinetunedNeRF
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.render.cameras import turntable_cameras
from hyperfields_cli.render.renderer import render_image
from hyperfields_cli.synthetic.scene import SceneSpec
from hyperfields_cli.text.cache import encode_prompts
from hyperfields_cli.train.finetune import FinetuneConfig, finetune, pick_guidance
from hyperfields_cli.train.finetune_core import (
    Curve,
    eval_schedule,
    make_start,
    synthetic_evaluator,
)

PROMPT = "a gold blender"


@pytest.fixture
def student(hyperfields_home: Path) -> str:
    """A tiny (untrained) student in the isolated store."""
    return save_tiny_student()


def _cfg(student: str, tmp_path: Path, **kw: object) -> FinetuneConfig:
    base: dict = dict(
        prompt=PROMPT,
        student=student,
        steps=40,
        device="cpu",
        rays=tiny_rays(),
        optim=tiny_optim(lr=1e-2, warmup_steps=3),
        eval_views=2,
        eval_size=16,
        eval_samples=32,
        out=tmp_path / "out",
        res=16,
        frames=2,
        mesh="none",
        video="none",
    )
    return FinetuneConfig(**{**base, **kw})


def test_finetune_improves_saves_and_reloads(student: str, tmp_path: Path) -> None:
    result = finetune(_cfg(student, tmp_path))
    art, m = result.artifact, result.metrics
    assert art.kind == "nerf" and art.ref == "gold-blender@v1"
    assert art.manifest.prompts == [PROMPT]
    assert [p.ref for p in art.manifest.parents] == [student]
    assert m["psnr"] > m["psnr_init"] + 2.0, m  # better than the student's zero-shot NeRF
    assert m["steps"] == 40 and m["guidance"] == "synthetic" and m["init"] == "student"
    assert (tmp_path / "out" / "a_gold_blender" / "sheet.png").is_file()
    # the saved NeRF is exactly what was evaluated
    nerf = FinetunedNeRF.from_pretrained(ArtifactStore().resolve(art.ref).path)
    evaluate = synthetic_evaluator(SceneSpec("blender", "gold"), torch.device("cpu"), 2, 16, 32)
    assert evaluate(nerf.field()) == pytest.approx(m["psnr"], abs=1e-4)


def test_from_student_is_the_students_prediction(student: str) -> None:
    model = HyperFieldsModel.from_pretrained(ArtifactStore().resolve(student).path)
    text = encode_prompts([PROMPT], model.config.text_encoder)
    nerf = FinetunedNeRF.from_student(model, text)
    cams = turntable_cameras(2, 12)
    want = render_image(model.scene_field(text), cams, num_samples=24).rgb
    got = render_image(nerf.field(), cams, num_samples=24).rgb
    assert torch.allclose(got, want, atol=1e-6)


def test_starts_share_the_architecture(student: str) -> None:
    """Only the initialisation differs between the student start and the baseline."""
    model = HyperFieldsModel.from_pretrained(ArtifactStore().resolve(student).path)
    text = encode_prompts([PROMPT], model.config.text_encoder)
    a = make_start(model, text, "student", "weights").module
    b = make_start(model, text, "scratch", "weights").module
    shapes = {k: v.shape for k, v in a.state_dict().items()}
    assert shapes == {k: v.shape for k, v in b.state_dict().items()}
    assert not torch.equal(a.grid.table, b.grid.table)
    assert not torch.equal(a.weights[0], b.weights[0])


def test_hypernet_mode_and_scratch(student: str, tmp_path: Path) -> None:
    res = finetune(_cfg(student, tmp_path, steps=6, optimise="hypernet", out=None))
    assert res.metrics["optimise"] == "hypernet"
    assert FinetunedNeRF.from_pretrained(res.artifact.path).cond.shape == (1, 16)
    res = finetune(_cfg(student, tmp_path, steps=6, init="scratch", out=None, name="base"))
    assert res.artifact.manifest.parents == [] and "architecture of" in res.artifact.manifest.notes


def test_views_guidance(student: str, tmp_path: Path) -> None:
    from hyperfields_cli.synthetic.dataset import export_nerf_dataset

    data = export_nerf_dataset(
        SceneSpec("mug", "red"), tmp_path / "data", views=6, size=16, test_views=1, num_samples=48
    )
    res = finetune(_cfg(student, tmp_path, prompt="a mug", views=data, steps=25, out=None))
    m = res.metrics
    assert m["guidance"] == "views" and m["psnr_test"] > m["psnr_test_init"] + 2.0, m


def test_sds_guidance(student: str, tmp_path: Path) -> None:
    """A prompt with no procedural scene goes to SDS (tiny random Stable Diffusion)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "guidance"))
    from tiny_sd import build_tiny_sd

    sd = build_tiny_sd(tmp_path / "tiny-sd")
    sds = SDSConfig(model_id=str(sd), latent_size=64, render_size=16)
    res = finetune(_cfg(student, tmp_path, prompt="a cozy cabin", sds=sds, steps=3, out=None))
    assert res.metrics["guidance"] == "sds" and "psnr" not in res.metrics
    assert math.isfinite(res.metrics["final_train_loss"])
    assert res.artifact.manifest.parents[0].ref == student


def test_guidance_errors(student: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not name a procedural scene"):
        pick_guidance(_cfg(student, tmp_path, prompt="a cozy cabin", guidance="synthetic"))
    with pytest.raises(UsageError, match="needs --views"):
        pick_guidance(_cfg(student, tmp_path, guidance="views"))
    assert pick_guidance(_cfg(student, tmp_path, prompt="a cozy cabin"))[0] == "sds"
    assert pick_guidance(_cfg(student, tmp_path))[1] == SceneSpec("blender", "gold")


def test_curve_helpers() -> None:
    sched = eval_schedule(300, dense_until=50, every_dense=10, every=100)
    assert sched == [0, 10, 20, 30, 40, 50, 150, 250, 300]
    c = Curve(points=[(0, 10.0), (10, 19.0), (20, 21.0)])
    assert c.first_step_reaching(20.0) == 20 and c.first_step_reaching(5.0) == 0
    assert c.first_step_reaching(30.0) is None


def test_grid_scale_keeps_the_start_field(student: str) -> None:
    """Features are L2-normalised per point: a scaled table renders the same start."""
    model = HyperFieldsModel.from_pretrained(ArtifactStore().resolve(student).path)
    text = encode_prompts([PROMPT], model.config.text_encoder)
    full = make_start(model, text, "student", "weights").module
    small = make_start(model, text, "student", "weights", grid_scale=0.1).module
    assert torch.allclose(small.grid.table, 0.1 * full.grid.table)
    cams = turntable_cameras(2, 12)
    with torch.no_grad():
        a = render_image(full.field(), cams, num_samples=24).rgb
        b = render_image(small.field(), cams, num_samples=24).rgb
    assert torch.allclose(a, b, atol=1e-4)
    with pytest.raises(ValueError):
        FinetuneConfig(prompt="a gold bowl", grid_scale=0.0)
