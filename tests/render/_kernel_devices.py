"""Where the ray-marching kernels can be tested: their CPU build (slow, needs a C++ toolchain)
and CUDA (needs a GPU). Shared by the kernel tests as a pytest parametrisation (the `dev` fixture in
conftest.py runs a test once per device)."""

from __future__ import annotations

import shutil

import pytest
import torch

KERNEL_DEVICES = [
    pytest.param(
        "cpu",
        marks=[
            pytest.mark.slow,
            pytest.mark.skipif(
                shutil.which("c++") is None or shutil.which("ninja") is None,
                reason="no C++ toolchain",
            ),
        ],
    ),
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ],
    ),
]
