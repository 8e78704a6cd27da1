"""Inference-only evaluation of the per-scene MLP (`mlp.scene_mlp`) with the conditioning folded.

Every layer of `scene_mlp` multiplies [h ; cond ; grid] (layer 0: [grid ; cond]) by its weights.
cond is one vector per scene, so its share of each product is a per-scene bias
b_i = W_i[:, cond] @ cond, computed once per render; what is left per point is
[h ; grid] @ W_i[:, h|grid]^T (layer 0: grid @ W_0[:, grid]^T). The points' [h ; grid] live in
one buffer [S, N, W + G]: the grid part is written once, the h part is updated in place, so no
layer concatenates or reads the conditioning again, and bias + ReLU go into the matmul's
epilogue where torch offers it (cuBLASLt, one scene). Same maths as `scene_mlp` up to float
rounding, in float32 or in bf16/fp16 (float32 accumulation inside the matmuls). No autograd
through the weights: they are detached copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from hyperfields_cli.field.mlp import SceneMLPConfig


@dataclass(frozen=True)
class FoldedMLP:
    """Weights of `scene_mlp` rearranged for inference (see the module docstring)."""

    width: int
    weights_t: list[Tensor]  # layer 0: [S, G, out]; later layers: [S, W + G, out] (transposed)
    biases: list[Tensor]  # [S, out] the conditioning's share of each layer
    dtype: torch.dtype


def fold_mlp(
    cfg: SceneMLPConfig, weights: list[Tensor], cond: Tensor, dtype: torch.dtype = torch.float32
) -> FoldedMLP:
    """weights[i] [S, out_i, in_i] and cond [S, C] -> FoldedMLP with matmul operands in dtype."""
    g, c, w = cfg.grid_dim, cfg.cond_dim, cfg.width
    ws, bs = [], []
    with torch.no_grad():
        cond32 = cond.detach().float()
        for i, wi in enumerate(weights):
            wi = wi.detach().float()  # [S, out, in]
            if i == 0:  # input [grid ; cond]
                w_pts, w_cond = wi[..., :g], wi[..., g : g + c]
            else:  # input [h ; cond ; grid]
                w_pts = torch.cat([wi[..., :w], wi[..., w + c :]], dim=-1)  # [S, out, W + G]
                w_cond = wi[..., w : w + c]
            bias = torch.einsum("soc,sc->so", w_cond, cond32)  # [S, out]
            ws.append(w_pts.to(dtype).contiguous().transpose(1, 2))  # [S, in', out]
            bs.append(bias.to(dtype).contiguous())
    return FoldedMLP(w, ws, bs, dtype)


def _linear(x: Tensor, w_t: Tensor, bias: Tensor, relu: bool) -> Tensor:
    """x [S, N, K] @ w_t [S, K, O] + bias [S, O] (then ReLU) -> [S, N, O]."""
    if x.shape[0] == 1:  # plain matmul: bias (+ ReLU) can run in the GEMM epilogue
        if relu and hasattr(torch, "_addmm_activation"):
            return torch._addmm_activation(bias[0], x[0], w_t[0])[None]
        y = torch.addmm(bias[0], x[0], w_t[0])[None]
    else:
        y = torch.baddbmm(bias[:, None, :], x, w_t)
    return y.relu_() if relu else y


def run_folded(m: FoldedMLP, grid: Tensor) -> Tensor:
    """grid features [S, N, G] -> raw outputs [S, N, out_dim] (in m.dtype), as `scene_mlp`."""
    s, n, g = grid.shape
    w = m.width
    buf = torch.empty(s, n, w + g, dtype=m.dtype, device=grid.device)  # [S, N, W + G]
    buf[..., w:] = grid  # cast once
    h = buf[..., :w]  # [S, N, W] view, updated in place
    last = len(m.weights_t) - 1
    for i, (w_t, bias) in enumerate(zip(m.weights_t, m.biases, strict=True)):
        x = buf[..., w:] if i == 0 else buf
        if i == last:
            return _linear(x, w_t, bias, relu=False)
        act = _linear(x, w_t, bias, relu=True)  # [S, N, W]
        if i == 0:
            h.copy_(act)
        else:
            h.add_(act)  # residual: h + relu(pre)
    raise AssertionError("the MLP has at least two layers")
