"""Opt-in timing of the inference marcher's stages, for benchmarks (no cost when unused).

A `StageTimer` splits the device timeline into consecutive intervals, each attributed to the
stage that ends it: on CUDA with events recorded on the current stream (no syncs; the time a
stage spends waiting for the host, e.g. at a `.item()`, counts towards that stage), on the CPU
with a host clock. Code marks stage ends with `mark(name)`; marks are no-ops unless a timer is
active (`with active(timer):`). `RoundStats` collects what each round of `march_infer` did.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor


class StageTimer:
    """Accumulates milliseconds per stage over any number of timed sections."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self._marks: list[tuple[str | None, object]] = []  # (stage ending here, event/time)

    def _now(self) -> object:
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            return ev
        return time.perf_counter()

    def start(self) -> None:
        """Begin a timed section (the time before it is not attributed)."""
        self._marks.append((None, self._now()))

    def mark(self, stage: str) -> None:
        """The interval since the previous mark belongs to `stage`."""
        self._marks.append((stage, self._now()))

    def _elapsed_ms(self, a: object, b: object) -> float:
        if self.cuda:
            return a.elapsed_time(b)  # type: ignore[attr-defined]
        return (b - a) * 1e3  # type: ignore[operator]

    def totals_ms(self) -> dict[str, float]:
        """Milliseconds per stage, in first-seen order (synchronises the device)."""
        if self.cuda:
            torch.cuda.synchronize()
        totals: dict[str, float] = {}
        prev: object | None = None
        for stage, t in self._marks:
            if stage is not None and prev is not None:
                totals[stage] = totals.get(stage, 0.0) + self._elapsed_ms(prev, t)
            prev = t
        return totals

    def reset(self) -> None:
        self._marks.clear()


_ACTIVE: StageTimer | None = None


@contextlib.contextmanager
def active(timer: StageTimer | None) -> Iterator[None]:
    """Make `timer` the target of `start`/`mark` inside the block (None: marks do nothing)."""
    global _ACTIVE
    before, _ACTIVE = _ACTIVE, timer
    try:
        yield
    finally:
        _ACTIVE = before


def timing() -> bool:
    """Whether a timer is active."""
    return _ACTIVE is not None


def start() -> None:
    if _ACTIVE is not None:
        _ACTIVE.start()


def mark(stage: str) -> None:
    if _ACTIVE is not None:
        _ACTIVE.mark(stage)


@dataclass
class RoundStats:
    """Per-round record of `march_infer` (filled when passed as `stats=` to `march_rays`).

    timer: also time the stages (march, grid, mlp, decode, query, composite, bookkeeping).
    count_used: also count the samples in front of each ray's termination point (those the
        compositing used; the rest were queried for nothing).
    """

    timer: StageTimer | None = None
    count_used: bool = False
    rounds: list[dict[str, int]] = field(default_factory=list)
    _used: list[Tensor | int] = field(default_factory=list)

    def record(self, rays: int, per_ray: int, samples: int, used: Tensor | int) -> None:
        self.rounds.append({"rays": rays, "per_ray": per_ray, "samples": samples})
        self._used.append(used)

    def summary(self) -> list[dict[str, int]]:
        """One dict per round: rays listed, per_ray cap, samples queried (and used)."""
        out = []
        for rec, used in zip(self.rounds, self._used, strict=True):
            row = dict(rec)
            if self.count_used:
                row["used"] = int(used)
            out.append(row)
        return out

    @property
    def queried(self) -> int:
        return sum(r["samples"] for r in self.rounds)
