"""Build and cache our CUDA extensions (csrc/) on first use with torch's extension builder."""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from types import ModuleType

import torch


def csrc_dir() -> Path:
    """CUDA sources: `_csrc` inside an installed wheel, else the repo's top-level `csrc/`."""
    packaged = Path(str(resources.files("hyperfields_cli"))) / "_csrc"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1] / "csrc"


def build_dir() -> Path:
    home = Path(os.environ.get("HYPERFIELDS_HOME", Path.home() / ".cache" / "hyperfields"))
    path = home / "torch_extensions" / f"torch{torch.__version__}-cuda{torch.version.cuda}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cuda_available() -> bool:
    return torch.cuda.is_available() and torch.version.cuda is not None


def _ext_dir(name: str) -> Path:
    path = build_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.cache
def load_extension(name: str, sources: tuple[str, ...]) -> ModuleType:
    """JIT-compile csrc/<sources> into module `name` (cached on disk across runs)."""
    from torch.utils.cpp_extension import load

    root = csrc_dir()
    return load(
        name=name,
        sources=[str(root / s) for s in sources],
        build_directory=str(_ext_dir(name)),
        extra_cuda_cflags=["-O3", "--use_fast_math", "-std=c++17"],
        extra_cflags=["-O3", "-std=c++17"],
        verbose=os.environ.get("HYPERFIELDS_VERBOSE_BUILD") == "1",
    )
