"""Several processes, one run: torch.distributed plumbing shared by `teach` and `distill`.

A run is distributed when torchrun started it (RANK / LOCAL_RANK / WORLD_SIZE in the
environment, world size > 1): each process takes the device of its LOCAL_RANK (NCCL on GPUs,
gloo on CPU). `distill` wraps the student in DistributedDataParallel; `teach` only uses the
rank to pick its share of the packs. `launch()` starts such a run on this machine by running
`python -m torch.distributed.run --standalone` on a JSON job (what `--gpus N` does).
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from hyperfields_cli.config import resolve_device
from hyperfields_cli.errors import EXIT_INTERRUPTED, UsageError, UserError

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the run: rank, world size and its device."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # we joined the process group, so we leave it

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block before the others (e.g. to fill an on-disk cache once)."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()


def launched() -> bool:
    """True inside a torchrun worker of a run with more than one process."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def _device_for(device_name: str, local_rank: int) -> torch.device:
    """cpu stays cpu; auto / cuda / cuda:N become cuda:LOCAL_RANK."""
    if device_name == "cpu" or (device_name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if resolve_device(device_name).type != "cuda":
        raise UsageError(f"device {device_name!r} cannot be used by a distributed run")
    if local_rank >= torch.cuda.device_count():
        raise UsageError(
            f"local rank {local_rank} has no GPU ({torch.cuda.device_count()} visible)",
            "start at most one process per GPU (--nproc_per_node / --gpus)",
        )
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def init(device_name: str = "auto", process_group: bool = True) -> DistContext:
    """This process's context; joins the process group when launched by torchrun."""
    if not launched():
        return DistContext(device=resolve_device(device_name))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = _device_for(device_name, local)
    _sigterm_as_interrupt()
    owns = process_group and not dist.is_initialized()
    if owns:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
    return DistContext(rank, local, world, device, owns)


def cleanup(ctx: DistContext) -> None:
    """Leave the process group (safe to call when none was joined)."""
    if ctx.owns_group and dist.is_initialized():
        gc.collect()  # DDP's reducer (in reference cycles) goes before its process group
        dist.destroy_process_group()


def _sigterm_as_interrupt() -> None:
    """torchrun stops workers with SIGTERM, often right after the terminal's Ctrl-C: the
    first of these signals becomes KeyboardInterrupt (rank 0 saves a checkpoint), later ones
    are ignored so they cannot cut that save short."""
    state = {"stopping": False}

    def handler(signum: int, frame: object) -> None:
        if state["stopping"]:
            return
        state["stopping"] = True
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def local_share(items: list[T], ctx: DistContext, what: str = "scenes") -> list[T]:
    """This rank's equal, contiguous slice of a global batch (the same on every world size)."""
    n, w = len(items), ctx.world_size
    if n % w:
        raise UsageError(
            f"{n} {what} per step cannot be split evenly over {w} processes",
            f"use a --meta-batch that is a multiple of {w}",
        )
    k = n // w
    return items[ctx.rank * k : (ctx.rank + 1) * k]


class ForwardThrough(nn.Module):
    """Calls `fn(module)` inside forward, so DDP's hooks see the step's whole computation."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, fn: Callable[[nn.Module], T]) -> T:
        return fn(self.module)


def data_parallel(model: nn.Module, ctx: DistContext) -> Callable[[Callable[[nn.Module], T]], T]:
    """`run(fn)` computes `fn(model)`: through DistributedDataParallel when distributed.

    Every parameter of HyperFieldsModel gets a gradient each step, so no unused-parameter
    search; its buffers are constants rebuilt from the config, so they are not re-broadcast.
    """
    if not ctx.enabled:
        return lambda fn: fn(model)
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    new = "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters  # newer torch
    no_sync = {"forward_sync_buffers" if new else "broadcast_buffers": False}
    return ddp(ForwardThrough(model), device_ids=ids, **no_sync)


def mean_metrics(vals: Tensor, ctx: DistContext) -> Tensor:
    """A vector of one step's numbers averaged over ranks (equal shares -> the global-batch
    mean). With NCCL the host does not wait: the result is read back later."""
    if ctx.enabled:
        dist.all_reduce(vals)
        vals = vals / ctx.world_size
    return vals


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """True on every rank when `flag` is True on any (e.g. a time limit reached)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


# -- launching on this machine ------------------------------------------------------------


def check_gpus(gpus: int, device: str) -> None:
    """A clear error before spawning when this machine lacks the GPUs asked for."""
    if gpus < 1:
        raise UsageError("--gpus must be at least 1")
    if device == "cpu" or gpus == 1:
        return
    have = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if have < gpus:
        raise UsageError(
            f"--gpus {gpus} asked for {gpus} GPUs but {have} are visible",
            "use fewer --gpus, or --device cpu to run that many CPU processes (gloo)",
        )


def launch(command: str, job: dict[str, Any], gpus: int, timeout: float | None = None) -> list[str]:
    """Run `command` in `gpus` torchrun workers on this machine; returns the saved refs.

    Children inherit the environment, with NCCL_NVLS_ENABLE=0 unless set. Ctrl-C reaches the
    workers too; we wait for them to save and stop, then re-raise. `timeout` (default:
    $HYPERFIELDS_LAUNCH_TIMEOUT seconds, else none) bounds the whole run.
    """
    if timeout is None and os.environ.get("HYPERFIELDS_LAUNCH_TIMEOUT"):
        timeout = float(os.environ["HYPERFIELDS_LAUNCH_TIMEOUT"])
    with tempfile.TemporaryDirectory(prefix="hyperfields-launch-") as tmp:
        spec = {"command": command, "job": job, "argv": sys.argv[1:], "results": tmp}
        path = Path(tmp) / "job.json"
        path.write_text(json.dumps(spec))
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={gpus}",
            "-m",
            "hyperfields_cli.train.distributed",
            str(path),
        ]
        env = {**os.environ, "NCCL_NVLS_ENABLE": os.environ.get("NCCL_NVLS_ENABLE", "0")}
        proc = subprocess.Popen(cmd, env=env)
        try:
            code = proc.wait(timeout=timeout)
        except KeyboardInterrupt:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=120)
            proc.kill()
            raise
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise UserError(f"{command} on {gpus} processes ran past {timeout:.0f}s") from None
        if code:
            if code == EXIT_INTERRUPTED:
                raise KeyboardInterrupt
            raise UserError(f"{command} failed in a worker process (exit {code}); see above")
        refs: list[str] = []
        for f in sorted(Path(tmp).glob("rank-*.json"), key=lambda p: int(p.stem[5:])):
            refs += json.loads(f.read_text())["refs"]
        return refs


def _worker(job_file: str) -> int:
    """One torchrun worker: rebuild the settings, run the command, note what it saved."""
    spec = json.loads(Path(job_file).read_text())
    sys.argv = ["hyperfields", *spec["argv"]]  # what the manifests record as the command
    from hyperfields_cli.artifacts import ArtifactStore

    job, refs = spec["job"], []
    if spec["command"] == "distill":
        from hyperfields_cli.config import DistillConfig
        from hyperfields_cli.train.distill import distill

        art = distill(DistillConfig.model_validate(job["config"]), ArtifactStore(job["store"]))
        refs = [art.ref] if art is not None else []
    elif spec["command"] == "teach":
        from hyperfields_cli.config import TeachConfig
        from hyperfields_cli.train.teach import teach_packs

        cfg = TeachConfig.model_validate(job["config"])
        arts = teach_packs(cfg, job["packs"], store=ArtifactStore(job["store"]))
        refs = [a.ref for a in arts]
    else:
        raise ValueError(f"unknown command {spec['command']!r}")
    rank = os.environ.get("RANK", "0")
    (Path(spec["results"]) / f"rank-{rank}.json").write_text(json.dumps({"refs": refs}))
    return 0


def _worker_main(argv: list[str]) -> int:
    from hyperfields_cli.cli.app import err_console

    try:
        return _worker(argv[0])
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except UserError as exc:
        rank = os.environ.get("RANK", "?")
        err_console.print(f"[red]error (rank {rank}):[/red] {exc.message}", highlight=False)
        if exc.hint:
            err_console.print(f"[dim]hint:[/dim] {exc.hint}", highlight=False)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
