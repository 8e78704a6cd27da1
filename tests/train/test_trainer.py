"""The shared training loop: every logged step reaches the history, read back late but whole."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from hyperfields_cli.train.trainer import OptimConfig, Trainer


def _trainer(tmp_path: Path, steps: int, log_every: int, **kw: object) -> Trainer:
    model = nn.Linear(3, 1)
    cfg = OptimConfig(lr=1e-2, warmup_steps=0, log_every=log_every, checkpoint_every=4)
    return Trainer(model, [{"params": model.parameters()}], cfg, steps, tmp_path, "t", **kw)


def _step_fn(trainer: Trainer, seen: dict[int, float]):  # noqa: ANN202
    x = torch.linspace(-1, 1, 24).reshape(8, 3)

    def step(i: int) -> dict[str, torch.Tensor | float]:
        mse = (trainer.model(x) - 1.0).square().mean()
        seen[i + 1] = float(mse.detach())
        return {"loss": mse, "mse": mse.detach(), "psnr": -10 * torch.log10(mse.detach()), "n": 8}

    return step


@pytest.mark.parametrize("log_every", [1, 3])
def test_every_logged_step_is_in_the_history_and_the_checkpoint(
    tmp_path: Path, log_every: int
) -> None:
    trainer, seen = _trainer(tmp_path, 10, log_every), {}
    history = trainer.run(_step_fn(trainer, seen))
    logged = [s for s in range(1, 11) if s % log_every == 0 or s == 10]
    assert [r["step"] for r in history] == logged
    for rec in history:
        assert rec["loss"] == pytest.approx(seen[rec["step"]]) and rec["n"] == 8.0
    times = [r["seconds"] for r in history]
    assert times == sorted(times) and times[0] >= 0
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["history"] == history and state["step"] == 10


def test_reduced_metrics_recompute_psnr_from_the_mean_mse(tmp_path: Path) -> None:
    calls = []

    def reduce(vals: torch.Tensor) -> torch.Tensor:
        calls.append(vals.dtype)
        return vals * 1.0

    trainer, seen = _trainer(tmp_path, 4, 1, reduce_metrics=reduce), {}
    history = trainer.run(_step_fn(trainer, seen))
    assert calls == [torch.float64] * 4
    for rec in history:
        assert rec["psnr"] == pytest.approx(-10 * math.log10(rec["mse"]))
