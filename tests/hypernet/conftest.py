"""Hypernet tests use tiny tensors: one intra-op thread avoids spin-wait contention."""

from __future__ import annotations

from _threads import single_thread  # noqa: F401
