"""Resumable training checkpoints without pickles: tensors in safetensors, the rest in JSON.

A checkpoint folder holds `model.safetensors`, `optimizer.safetensors` (+ `optimizer.json`
for hyper-parameters and the tensor -> state mapping), `ema.safetensors` when EMA is on and
`state.json` (step, metrics, settings). Writes go to a temp folder renamed into place, so an
interrupted save never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hyperfields_cli.errors import NotFoundError


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, state in sd["state"].items():
        for key, val in state.items():
            if torch.is_tensor(val):
                tensors[f"{pid}.{key}"] = val.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(pid), {})[key] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = val
    for pid, vals in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(vals)
    return {"state": state, "param_groups": meta["param_groups"]}


def _state_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    state: dict[str, Any],
    ema: nn.Module | None = None,
) -> Path:
    """Atomically write a checkpoint folder at `path` (replacing an older one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ckpt-", dir=path.parent))
    try:
        save_file(_state_tensors(model), str(tmp / "model.safetensors"))
        if optimizer is not None:
            tensors, meta = _flatten_optimizer(optimizer)
            save_file(tensors, str(tmp / "optimizer.safetensors"))
            (tmp / "optimizer.json").write_text(json.dumps(meta))
        if ema is not None:
            save_file(_state_tensors(ema), str(tmp / "ema.safetensors"))
        (tmp / "state.json").write_text(json.dumps(state, indent=2, default=str))
        old = path.with_name(path.name + ".old")
        if path.exists():
            path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    ema: nn.Module | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Restore model (+ optimizer, EMA) in place and return the saved training state."""
    if not (path / "state.json").exists():
        raise NotFoundError(f"no checkpoint at {path}", "start without --resume")
    model.load_state_dict(load_file(str(path / "model.safetensors"), device=str(device)))
    if optimizer is not None and (path / "optimizer.safetensors").exists():
        tensors = load_file(str(path / "optimizer.safetensors"), device=str(device))
        meta = json.loads((path / "optimizer.json").read_text())
        optimizer.load_state_dict(_unflatten_optimizer(tensors, meta))
    if ema is not None and (path / "ema.safetensors").exists():
        ema.load_state_dict(load_file(str(path / "ema.safetensors"), device=str(device)))
    return json.loads((path / "state.json").read_text())
