"""Diagnose slow/hung grid backward at large N: time each backend's backward with/without dx."""

import faulthandler
import time

import torch

from hyperfields_cli.field import backends
from hyperfields_cli.field.grid import GridConfig, level_layout
from hyperfields_cli.field.grid_torch import grid_encode_torch

faulthandler.dump_traceback_later(110, exit=True)
dev = "cuda"
cfg = GridConfig()
res, off, h = (t.to(dev) for t in level_layout(cfg))
table = (0.1 * torch.randn(int(off[-1]), 2, device=dev)).requires_grad_(True)
for n in (2**16, 2**18, 2**20):
    x = torch.rand(n, 3, device=dev, requires_grad=True)
    g = torch.randn(n, 32, device=dev)
    for name, fn in (("cuda", backends.encode_cuda), ("torch", grid_encode_torch)):
        for dx in (False, True):
            xx = x if dx else x.detach()
            for rep in range(2):
                torch.cuda.synchronize()
                t0 = time.time()
                fn(xx, table, res, off, h, 2**19).backward(g)
                torch.cuda.synchronize()
                print(name, n, "dx" if dx else "table", rep, f"{time.time() - t0:.4f}s", flush=True)
