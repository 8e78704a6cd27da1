"""Where a distill step's time goes on one GPU: host-bound (op launches, syncs) or device-bound.

Runs `distill` in-process over procedural packs; after `--warmup` steps, profiles `--steps`
steps with torch.profiler and reports per step: wall ms, GPU kernel ms (the sum of kernel
durations: < wall means the GPU waited on the host), aten ops launched, and host<->device
synchronisations (stream/device syncs and blocking copies). Then one more step runs under
`torch.cuda.set_sync_debug_mode("warn")` and the source lines that synchronised are listed.

    python benchmarks/profile_distill.py --meta-batch 16 --out prof.json
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hyperfields_cli.train.distill as distill_mod  # noqa: E402
from hyperfields_cli.artifacts import ArtifactStore  # noqa: E402
from hyperfields_cli.config import DistillConfig  # noqa: E402
from hyperfields_cli.train.trainer import Trainer  # noqa: E402

SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize")


def summarise(prof: Any, steps: int, wall: float) -> dict[str, Any]:
    """Per-step numbers from one profile over `steps` steps that took `wall` seconds."""
    kernel_us = ops = syncs = blocking_copies = 0
    for ev in prof.events():
        name = ev.name
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            kernel_us += ev.device_time  # kernels and memcpys on the GPU
        elif name.startswith("aten::"):
            ops += 1
        elif name in SYNC_CALLS:
            syncs += 1
        elif name == "cudaMemcpy":
            blocking_copies += 1
    return {
        "wall_ms": 1e3 * wall / steps,
        "gpu_busy_ms": kernel_us / 1e3 / steps,
        "aten_ops": ops / steps,
        "syncs": syncs / steps,
        "blocking_copies": blocking_copies / steps,
    }


def top_kernels(prof: Any, steps: int, n: int = 25) -> list[str]:
    """The n GPU kernels that took longest over the profile: ms per step, calls per step."""
    total: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            total[ev.name[:90]] += ev.device_time
            calls[ev.name[:90]] += 1
    return [
        f"{us / 1e3 / steps:8.2f} ms {calls[name] / steps:7.1f}x  {name}"
        for name, us in total.most_common(n)
    ]


class ProfilingTrainer(Trainer):
    """A Trainer that profiles steps [warmup, warmup + steps) and sync-checks the next one."""

    warmup, steps = 5, 5
    report: dict[str, Any] = {}

    def _one_step(self, step_fn: Any) -> Any:
        if self.step == self.warmup:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                for _ in range(self.steps - 1):
                    super()._one_step(step_fn)
                out = super()._one_step(step_fn)
                torch.cuda.synchronize()
            self.report.update(summarise(prof, self.steps, time.perf_counter() - t0))
            self.report["top_kernels"] = top_kernels(prof, self.steps)
            return out
        if self.step == self.warmup + self.steps:
            return self._sync_checked(step_fn)
        return super()._one_step(step_fn)

    def _sync_checked(self, step_fn: Any) -> Any:
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                out = super()._one_step(step_fn)
            finally:
                torch.cuda.set_sync_debug_mode(0)
        sites = collections.Counter(f"{w.filename}:{w.lineno}: {w.message}" for w in caught)
        self.report["sync_sites"] = dict(sites.most_common())
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meta-batch", type=int, default=16)
    ap.add_argument("--teachers", nargs="+", default=["all_train"])
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("profile_distill needs a CUDA GPU")
    ProfilingTrainer.warmup, ProfilingTrainer.steps = args.warmup, args.steps
    distill_mod.Trainer = ProfilingTrainer
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        manifest = tmp / "teachers.toml"
        manifest.write_text("".join(f'[[teachers]]\npack = "{p}"\n' for p in args.teachers))
        optim = DistillConfig.model_fields["optim"].default.model_copy(
            update={"log_every": 1, "checkpoint_every": 100_000}
        )
        cfg = DistillConfig(
            teachers=manifest,
            name="profile",
            iters=args.warmup + args.steps + 1,
            meta_batch=args.meta_batch,
            device="cuda",
            run_dir=tmp / "run",
            optim=optim,
            eval_views=1,
        )
        distill_mod.distill(cfg, ArtifactStore(tmp / "store"))
    report = {
        "device": torch.cuda.get_device_name(0),
        "meta_batch": args.meta_batch,
        **ProfilingTrainer.report,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
