"""The one training loop every command shares: optimise, schedule, EMA, checkpoint, report.

Commands (teach, distill, finetune) supply a `step_fn(step) -> {"loss": tensor, ...}` that
builds the loss for one step; the trainer owns everything around it, so resume, Ctrl-C
handling and progress behave the same everywhere.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from hyperfields_cli.train.checkpoint import load_checkpoint, save_checkpoint

StepFn = Callable[[int], dict[str, Tensor | float]]
ReduceFn = Callable[[Tensor], Tensor]
"""Averages a vector of a step's numbers over ranks (a collective; may return before done)."""


class OptimConfig(BaseModel):
    """Optimiser and schedule (paper: Adam lr 1e-4, grid 1e-3; torch-ngp style betas/eps)."""

    lr: float = Field(1e-4, gt=0)
    grid_lr: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-15
    warmup_steps: int = Field(100, ge=0)
    decay: Literal["none", "cosine"] = "cosine"
    final_lr_ratio: float = Field(0.1, ge=0, le=1)
    ema_decay: float | None = Field(None, description="keep an EMA copy of the weights")
    amp: Literal["none", "fp16", "bf16"] = "none"
    grad_clip: float | None = 1.0
    checkpoint_every: int = Field(500, ge=1)
    log_every: int = Field(10, ge=1)
    max_seconds: float | None = Field(None, gt=0, description="stop (and save) after this long")


def lr_factor(cfg: OptimConfig, step: int, total: int) -> float:
    """Linear warm-up, then cosine decay to `final_lr_ratio`."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.decay == "none" or total <= cfg.warmup_steps:
        return 1.0
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.final_lr_ratio + (1 - cfg.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac))


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("psnr {task.fields[psnr]}"),
        TextColumn("{task.fields[rate]} it/s"),
        TimeRemainingColumn(),
    )


class Trainer:
    """Owns the optimiser, schedule, EMA, AMP scaler, checkpoints and progress of one run.

    In a distributed run every rank owns a Trainer: `is_main` is False on all but rank 0
    (no checkpoints, no progress bar) and `reduce_metrics` averages the logged numbers over
    ranks (a collective, called on every rank at the same steps); `any_rank` (a collective
    too) makes all ranks stop at the same step when one runs out of `max_seconds`.

    Logged numbers are read back one logged step late: reading a loss waits for the GPU to
    finish that step, and waiting on the step just queued would leave the GPU idle while the
    host prepares the next one.
    """

    def __init__(
        self,
        model: nn.Module,
        param_groups: Iterable[dict[str, Any]],
        cfg: OptimConfig,
        total_steps: int,
        run_dir: Path | None = None,
        description: str = "training",
        show_progress: bool = True,
        is_main: bool = True,
        reduce_metrics: ReduceFn | None = None,
        any_rank: Callable[[bool], bool] | None = None,
    ) -> None:
        self.model, self.cfg, self.total_steps = model, cfg, total_steps
        self.run_dir, self.description = run_dir, description
        self.show_progress = show_progress and is_main
        self.is_main, self.reduce_metrics, self.any_rank = is_main, reduce_metrics, any_rank
        self.optimizer = torch.optim.Adam(list(param_groups), betas=cfg.betas, eps=cfg.eps)
        for group in self.optimizer.param_groups:
            group["base_lr"] = group["lr"]
        self.ema = (
            AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
            if cfg.ema_decay
            else None
        )
        device = next(model.parameters()).device
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")
        self.step = 0
        self.elapsed = 0.0  # seconds spent in run(), summed over resumes
        self.history: list[dict[str, float]] = []
        self._pending: list[tuple[int, list[str], Tensor, dict[str, float]]] = []
        self._t_start = time.perf_counter()  # of the current run() call

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoint"

    def resume(self) -> int:
        """Continue from `run_dir/checkpoint`; returns the step it resumes at."""
        assert self.checkpoint_dir is not None
        state = load_checkpoint(
            self.checkpoint_dir,
            self.model,
            self.optimizer,
            self.ema,
            device=next(self.model.parameters()).device,
        )
        self.step = int(state["step"])
        self.elapsed = float(state.get("elapsed", 0.0))
        self.history = state.get("history", [])
        return self.step

    def save(self, extra: dict[str, Any] | None = None) -> None:
        self._flush()
        if self.checkpoint_dir is None or not self.is_main:
            return
        state = {
            "step": self.step,
            "total_steps": self.total_steps,
            "history": self.history,
            **(extra or {}),
        }
        save_checkpoint(self.checkpoint_dir, self.model, self.optimizer, state, self.ema)

    def run_metrics(self) -> dict[str, float | str]:
        """What the artifact manifest records about the run itself."""
        dev = next(self.model.parameters()).device
        card = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
        last = self.history[-1]["loss"] if self.history else float("nan")
        return {
            "steps": self.step,
            "train_seconds": round(self.elapsed, 1),
            "device": card,
            "final_train_loss": last,
        }

    def averaged_model(self) -> nn.Module:
        """The weights to ship: the EMA copy when enabled, else the live model."""
        return self.ema.module if self.ema is not None else self.model

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.cfg.amp == "none":
            return contextlib.nullcontext()
        dtype = torch.float16 if self.cfg.amp == "fp16" else torch.bfloat16
        return torch.autocast(self.device_type, dtype=dtype)

    def _one_step(self, step_fn: StepFn) -> dict[str, Tensor | float]:
        factor = lr_factor(self.cfg, self.step, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            out = step_fn(self.step)
        self.scaler.scale(out["loss"]).backward()
        if self.cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.step += 1
        return out

    def _record(self, out: dict[str, Tensor | float]) -> None:
        """Queue this step's numbers (device tensors stay on the device, no wait)."""
        keys = sorted(k for k, v in out.items() if torch.is_tensor(v))
        host = {k: float(v) for k, v in out.items() if not torch.is_tensor(v)}
        host["seconds"] = self.elapsed + time.perf_counter() - self._t_start  # steps issued by now
        vals = torch.stack([out[k].detach().reshape(()).to(torch.float64) for k in keys])
        if self.reduce_metrics is not None:
            vals = self.reduce_metrics(vals)
        self._pending.append((self.step, keys, vals, host))

    def _flush(self, keep: int = 0) -> None:
        """Move all but the newest `keep` queued records into the history (waits for them)."""
        while len(self._pending) > keep:
            step, keys, vals, host = self._pending.pop(0)
            rec = {**dict(zip(keys, vals.tolist(), strict=True)), **host}
            if self.reduce_metrics is not None and "mse" in rec and "psnr" in rec:
                rec["psnr"] = -10.0 * math.log10(max(rec["mse"], 1e-10))  # of the mean mse
            rec["step"] = step
            self.history.append(rec)

    def _out_of_time(self, t_start: float) -> bool:
        """True once this call of run() has used its `max_seconds` (resume continues)."""
        limit = self.cfg.max_seconds
        if limit is None:
            return False
        over = time.perf_counter() - t_start >= limit
        return self.any_rank(over) if self.any_rank is not None else over

    def run(self, step_fn: StepFn) -> list[dict[str, float]]:
        """Train until `total_steps`; Ctrl-C saves a checkpoint before re-raising."""
        self.model.train()
        progress = progress_bar()
        task = progress.add_task(
            self.description,
            total=self.total_steps,
            completed=self.step,
            loss="-",
            psnr="-",
            rate="-",
        )
        t_start = self._t_start = time.perf_counter()
        since = (t_start, self.step)
        try:
            with progress if self.show_progress else contextlib.nullcontext():
                while self.step < self.total_steps and not self._out_of_time(t_start):
                    out = self._one_step(step_fn)
                    if self.step % self.cfg.log_every == 0 or self.step == self.total_steps:
                        self._record(out)
                        self._flush(keep=1)
                        self._show(progress, task, since)
                        since = (time.perf_counter(), self.step)
                    if self.step % self.cfg.checkpoint_every == 0:
                        self.save()
                self._flush()  # the last step's numbers: its wait is part of the run's time
                self._show(progress, task, since)
        except KeyboardInterrupt:
            self.save()
            raise
        finally:
            self.elapsed += time.perf_counter() - t_start
        self.save()
        return self.history

    def _show(self, progress: Progress, task: Any, since: tuple[float, int]) -> None:
        """Progress line from the newest record read back so far."""
        rate = (self.step - since[1]) / max(time.perf_counter() - since[0], 1e-9)
        rec = self.history[-1] if self.history else {}
        progress.update(
            task,
            completed=self.step,
            loss=f"{rec['loss']:.4f}" if "loss" in rec else "-",
            psnr=f"{rec['psnr']:.2f}" if "psnr" in rec else "-",
            rate=f"{rate:.1f}",
        )
