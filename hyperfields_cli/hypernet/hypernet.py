"""The dynamic hypernetwork: prompt tokens (+ the field's own activations) -> scene MLP weights.

Path (paper): tokens [B, T, D_text] -> Linear -> pre-norm transformer -> mean over valid tokens
= CT [B, dim]. cond = normalize(Linear(CT)) [B, C] feeds every MLP layer. For layer i a small
MLP maps [CT ; stat_{i-1}] to a modulation M_i and W_i = gain_i * rownorm(B_i * M_i), where
stat_{i-1} is the mean over probe points of layer i-1's pre-activation output, *detached*.
That pooling is the "dynamic" part: the weights of layer i depend on what layers < i do.
Other archs: "static" (no stat), "concat" (shared weights, cond from the sentence vector),
"additive" / "routed" (per-token proposals, no transformer: `hypernet/routed.py`; routed
composes unseen shape/material pairs best, benchmarks/RESULTS.md).

Choices (ours, see the report/DESIGN note):
- Row-wise L2 normalisation with a learned per-row gain: the hypernet only chooses directions,
  so no prompt can blow up the field; gain sqrt(2) on hidden rows is He init (keeps the
  per-unit second moment through ReLU), the output rows start at `out_gain` (default 5) so a
  density logit can reach about +-15 without waiting for the gain to grow at lr 1e-4.
- M_i = 1 + Delta near the identity at init, so the first field is the shared base MLP.
- Low-rank M_i = 1 + U V^T (default rank 8): the head's output is linear (full) or bilinear
  (low rank) in its `head_hidden` features, so each layer's per-scene freedom is bounded by
  head_hidden either way; rank 8 keeps (out+in)*8 = 1792 outputs per hidden layer instead of
  out*in = 10240, i.e. ~6x fewer head parameters at the same per-scene dimensionality.
- The stat is RMS-normalised before the head: the residual stream grows with depth, and
  this keeps the head's input on the same scale as CT at every layer.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, Field, model_validator
from torch import Tensor, nn
from torch.nn import functional as F

from hyperfields_cli.field.branches import branch_masks, colour_rows, split_sizes
from hyperfields_cli.field.mlp import SceneMLPConfig, apply_layer, layer_input
from hyperfields_cli.hypernet import routed
from hyperfields_cli.text.batch import TextBatch

Arch = Literal["dynamic", "static", "concat", "additive", "routed"]
TOKEN_ARCHS = ("additive", "routed")
"""Archs where every token proposes its own modulation (`hypernet/routed.py`): no transformer."""


class HyperNetConfig(BaseModel):
    """Transformer + per-layer modulation heads. Paper: dim 256, 6 layers, 8 heads."""

    dim: int = Field(256, ge=8, description="transformer width")
    depth: int = Field(6, ge=0, description="transformer layers (0 = mean of projected tokens)")
    heads: int = Field(8, ge=1)
    ffn_mult: float = Field(4.0, gt=0, description="feed-forward width = ffn_mult * dim")
    head_hidden: int = Field(256, ge=4, description="hidden width of each modulation MLP")
    modulation_rank: int | None = Field(
        8, ge=1, description="None = full out x in modulation; r = 1 + U V^T of rank r"
    )
    hidden_gain: float = Field(math.sqrt(2.0), gt=0, description="initial row norm, hidden")
    out_gain: float = Field(5.0, gt=0, description="initial row norm of the output layer")
    mod_init: float = Field(0.05, ge=0, description="initial std of M - 1")
    density_fraction: float = Field(
        0.5, gt=0, lt=1, description="routed arch: share of MLP width and cond for density"
    )

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> HyperNetConfig:
        if self.dim % self.heads:
            raise ValueError(f"hypernet dim {self.dim} is not divisible by heads {self.heads}")
        return self


def rms_normalize(x: Tensor, eps: float = 1e-6) -> Tensor:
    """x [..., C] scaled to unit RMS over C (zeros stay zeros)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


class ModulationHead(nn.Module):
    """[CT ; stat] [B, dim + width] -> M [B, out, in] (full or 1 + U V^T)."""

    def __init__(
        self, in_dim: int, hidden: int, shape: tuple[int, int], rank: int | None, init_std: float
    ) -> None:
        super().__init__()
        self.shape = shape
        self.rank = rank
        o, i = shape
        n = o * i if rank is None else (o + i) * rank
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU())
        self.proj = nn.Linear(hidden, n)
        # GELU features of a default-init Linear have RMS ~0.35: scale so that M - 1 ~ init_std
        feat_rms = 0.35
        with torch.no_grad():
            nn.init.normal_(self.proj.weight, std=init_std / (feat_rms * math.sqrt(hidden)))
            nn.init.zeros_(self.proj.bias)
            if rank is not None:  # LoRA-style: U small and text-dependent, V a random basis
                self.proj.bias[o * rank :].normal_(std=1.0 / math.sqrt(rank))

    def forward(self, x: Tensor) -> Tensor:
        out = self.proj(self.net(x))  # [B, n]
        o, i = self.shape
        if self.rank is None:
            return 1.0 + out.view(-1, o, i)  # [B, out, in]
        u = out[:, : o * self.rank].view(-1, o, self.rank)  # [B, out, r]
        v = out[:, o * self.rank :].view(-1, i, self.rank)  # [B, in, r]
        return 1.0 + torch.bmm(u, v.transpose(1, 2))  # [B, out, in]


class HyperNetwork(nn.Module):
    """TextBatch (+ probe grid features) -> per-scene MLP weights [B, out, in] and cond [B, C]."""

    def __init__(
        self, cfg: HyperNetConfig, mlp: SceneMLPConfig, text_dim: int, arch: Arch = "dynamic"
    ) -> None:
        super().__init__()
        self.cfg, self.mlp, self.text_dim, self.arch = cfg, mlp, text_dim, arch
        shapes = mlp.layer_shapes()
        self.transformer: nn.TransformerEncoder | None = None
        if arch == "concat":  # no hypernetwork: cond from the sentence vector, shared weights
            self.cond_proj = nn.Linear(text_dim, mlp.cond_dim)
        else:
            self.in_proj = nn.Linear(text_dim, cfg.dim)
            if cfg.depth > 0 and arch not in TOKEN_ARCHS:
                layer = nn.TransformerEncoderLayer(
                    cfg.dim,
                    cfg.heads,
                    int(round(cfg.ffn_mult * cfg.dim)),
                    dropout=0.0,
                    activation="gelu",
                    batch_first=True,
                    norm_first=True,
                )
                self.transformer = nn.TransformerEncoder(
                    layer, cfg.depth, norm=nn.LayerNorm(cfg.dim), enable_nested_tensor=False
                )
            self.cond_proj = nn.Linear(cfg.dim, mlp.cond_dim)
            head_in = cfg.dim if arch in TOKEN_ARCHS else cfg.dim + mlp.width  # + stat
            self.mod_heads = nn.ModuleList(
                ModulationHead(head_in, cfg.head_hidden, s, cfg.modulation_rank, cfg.mod_init)
                for s in shapes
            )
        if arch == "routed":
            self._init_branches(cfg, mlp)
        self.bases = nn.ParameterList(
            nn.Parameter(torch.randn(o, i) / math.sqrt(i)) for o, i in shapes
        )
        last = len(shapes) - 1
        self.gains = nn.ParameterList(
            nn.Parameter(torch.full((o,), cfg.out_gain if k == last else cfg.hidden_gain))
            for k, (o, _) in enumerate(shapes)
        )

    def _init_branches(self, cfg: HyperNetConfig, mlp: SceneMLPConfig) -> None:
        """Router, branch sizes and the MLP's branch masks (buffers rebuilt from the config)."""
        self.router = routed.TokenRouter(cfg.dim, branches=2)
        self.density_units = split_sizes(mlp.width, cfg.density_fraction)
        self.density_cond = split_sizes(mlp.cond_dim, cfg.density_fraction)
        masks = branch_masks(mlp, self.density_units, self.density_cond)
        for i, m in enumerate(masks):
            self.register_buffer(f"branch_mask_{i}", m, persistent=False)
            self.register_buffer(
                f"colour_rows_{i}", colour_rows(mlp, i, self.density_units), persistent=False
            )

    @property
    def uses_probe(self) -> bool:
        """Whether predict() needs probe features (only the dynamic arch pools activations)."""
        return self.arch == "dynamic"

    def encode_text(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """tokens [B, T, D_text], mask [B, T] -> CT [B, dim] (mean over valid tokens)."""
        x = self.in_proj(tokens)  # [B, T, dim]
        if self.transformer is not None:
            x = self.transformer(x, src_key_padding_mask=~mask)  # [B, T, dim]
        m = mask[..., None].to(x.dtype)  # [B, T, 1]
        return (x * m).sum(1) / m.sum(1)  # [B, dim]

    def layer_weight(self, i: int, mod: Tensor | None, batch: int) -> Tensor:
        """W_i = gain_i * rownorm(B_i * M_i): mod [B, out, in] or None -> [B, out, in]."""
        base = self.bases[i]  # [out, in]
        if self.arch == "routed":
            base = base * getattr(self, f"branch_mask_{i}")  # zero the cross-branch blocks
        w = base.expand(batch, -1, -1) if mod is None else base * mod  # [B, out, in]
        return F.normalize(w, dim=-1, eps=1e-8) * self.gains[i][:, None]

    def predict(
        self, text: TextBatch, grid_feats: Tensor | None = None
    ) -> tuple[list[Tensor], Tensor]:
        """-> (weights [[B, out_i, in_i]], cond [B, C]). grid_feats [B, P, G] or [P, G] are the
        probe points' grid features; needed only by the dynamic arch."""
        b = len(text)
        n_layers = len(self.bases)
        if self.arch == "concat":
            cond = F.normalize(self.cond_proj(text.sentence), dim=-1)  # [B, C]
            return [self.layer_weight(i, None, b) for i in range(n_layers)], cond
        self._check_tokens(text)
        if self.arch in TOKEN_ARCHS:
            return self._predict_per_token(text)
        ct = self.encode_text(text.tokens, text.mask)  # [B, dim]
        cond = F.normalize(self.cond_proj(ct), dim=-1)  # [B, C]
        feats = self._probe_feats(grid_feats, b, ct) if self.uses_probe else None
        stat = ct.new_zeros(b, self.mlp.width)  # [B, width]; zeros feed layer 0 (and static)
        h: Tensor | None = None
        weights: list[Tensor] = []
        for i in range(n_layers):
            mod = self.mod_heads[i](torch.cat([ct, stat], dim=-1))  # [B, out, in]
            w = self.layer_weight(i, mod, b)
            weights.append(w)
            if feats is not None and i < n_layers - 1:
                # Probe pass without autograd == the paper's detach: weights of layer i+1 get
                # no gradient through layer i's activations, only through CT.
                with torch.no_grad():
                    x = layer_input(self.mlp, i, h, feats, cond)  # [B, P, in_i]
                    state = apply_layer(self.mlp, i, h, x, w)
                    h = state.h  # [B, P, width]
                    stat = rms_normalize(state.pre.mean(dim=1))  # [B, width]
        return weights, cond

    def _check_tokens(self, text: TextBatch) -> None:
        """Clear errors for prompts the token-reading archs cannot use."""
        if min(text.lengths) == 0:  # host copy, cached: no GPU sync per step
            raise ValueError("every prompt needs at least one valid token")
        if text.tokens.shape[-1] != self.text_dim:
            raise ValueError(
                f"text tokens have dim {text.tokens.shape[-1]}, model expects "
                f"{self.text_dim} (was the model trained with another encoder?)"
            )

    def _predict_per_token(self, text: TextBatch) -> tuple[list[Tensor], Tensor]:
        """Additive / routed archs (`hypernet/routed.py`): no token mixing, no probe."""
        x = self.in_proj(text.tokens)  # [B, T, dim]
        branched = self.arch == "routed"
        alpha = self.router(x, text.mask) if branched else routed.uniform_weights(text.mask)
        cond = routed.pooled_cond(self.cond_proj, x, alpha, getattr(self, "density_cond", 0))
        weights = []
        for i, head in enumerate(self.mod_heads):
            rows = getattr(self, f"colour_rows_{i}") if branched else None
            mod = routed.token_modulation(head, x, alpha, rows)  # [B, out, in]
            weights.append(self.layer_weight(i, mod, x.shape[0]))
        return weights, cond

    def _probe_feats(self, grid_feats: Tensor | None, b: int, like: Tensor) -> Tensor:
        if grid_feats is None:
            raise ValueError("the dynamic hypernetwork needs probe grid features")
        if grid_feats.dim() == 2:
            grid_feats = grid_feats[None].expand(b, -1, -1)  # [B, P, G]
        if grid_feats.shape[0] != b or grid_feats.shape[-1] != self.mlp.grid_dim:
            raise ValueError(
                f"probe features {tuple(grid_feats.shape)} do not match batch {b} "
                f"and grid dim {self.mlp.grid_dim}"
            )
        return grid_feats.to(like.dtype)
