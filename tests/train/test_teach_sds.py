"""`teach --guidance sds` end to end on CPU with tiny random-weight Stable Diffusion parts,
loaded through the same `from_pretrained` path users hit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from _train_tiny import tiny_run

from hyperfields_cli.config import TeachConfig
from hyperfields_cli.guidance.sds import SDSConfig
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.train.teach import teach

_TINY_SD = Path(__file__).resolve().parents[1] / "guidance" / "tiny_sd.py"


def _build_tiny_sd(path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("tiny_sd_for_teach", _TINY_SD)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.build_tiny_sd(path)


def test_teach_sds_writes_teacher(
    two_prompt_pack: Path, hyperfields_home: Path, tmp_path: Path
) -> None:
    sd = _build_tiny_sd(tmp_path / "tiny-sd")
    cfg = TeachConfig(
        prompt_pack=str(two_prompt_pack),
        guidance="sds",
        iters=3,
        meta_batch=2,
        **tiny_run(tmp_path / "run"),
        sds=SDSConfig(model_id=str(sd), render_size=16, latent_size=64),
    )
    art = teach(cfg)
    assert art.kind == "teacher" and art.manifest.metrics["guidance"] == "sds"
    assert art.manifest.metrics["steps"] == 3
    assert art.manifest.config["sds"]["model_id"] == str(sd)
    model = HyperFieldsModel.from_pretrained(art.path)
    assert model.config.arch == "dynamic"
