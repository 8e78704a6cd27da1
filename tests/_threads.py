"""One intra-op thread for tests of small tensors: faster than spin-waiting thread pools and
immune to a busy 2-core machine. Import `single_thread` into a conftest (or test module) to
turn it on for that folder (or module); it is autouse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
