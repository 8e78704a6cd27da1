"""How a field is evaluated when rendering without grad: precision and MLP layout options.

`inference_field(field, precision, mlp)` returns the field to query:

- precision "fp32" (default): float32 everywhere. "tf32": float32 tensors, the MLP's matmuls
  on TF32 tensor cores (CUDA; the same as fp32 elsewhere). "bf16" / "fp16": the MLP's matmuls
  run in that dtype. The grid encoding, the density/colour decoding and everything after stay
  float32 (outputs are returned as float32).
- mlp "reference" (default): `scene_mlp` as trained (under torch.autocast for bf16/fp16).
  "folded": the conditioning folded into per-scene biases, one [h ; grid] buffer updated in
  place (field/mlp_infer.py): the same maths with fewer bytes moved per layer.

A `SceneField` gets both options; any other field gets precision through torch.autocast
around its `query` and is queried as usual for mlp="folded" (it has no MLP of ours to fold).
The defaults return the field itself, so rendering is unchanged unless asked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch
from torch import Tensor

from hyperfields_cli.errors import UsageError
from hyperfields_cli.field.base import FieldOutput, FieldWrapper, RadianceField
from hyperfields_cli.field.mlp import decode_outputs, scene_mlp
from hyperfields_cli.field.mlp_infer import FoldedMLP, fold_mlp, run_folded
from hyperfields_cli.field.scene_field import SceneField
from hyperfields_cli.render import profiling

Precision = Literal["fp32", "tf32", "bf16", "fp16"]
MLPImpl = Literal["reference", "folded"]

DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "tf32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def _dtype(precision: str) -> torch.dtype:
    if precision not in DTYPES:
        raise UsageError(f"unknown precision {precision!r}", "use fp32, tf32, bf16 or fp16")
    return DTYPES[precision]


@contextlib.contextmanager
def matmul_precision(precision: str, device: torch.device) -> Iterator[None]:
    """float32 matmuls on TF32 tensor cores inside the block when precision is "tf32" (CUDA)."""
    if precision != "tf32" or device.type != "cuda":
        yield
        return
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


class InferenceSceneField(FieldWrapper):
    """A `SceneField` queried for rendering: grid (float32) -> MLP (dtype, layout) -> decode.

    Marks the profiling stages "grid", "mlp" and "decode". With grad enabled (e.g. normals for
    lambertian shading) the folded layout falls back to the reference MLP, which autograd
    supports.
    """

    base: SceneField

    def __init__(self, field: SceneField, precision: Precision, mlp: MLPImpl) -> None:
        if mlp not in ("reference", "folded"):
            raise UsageError(f"unknown mlp layout {mlp!r}", "use reference or folded")
        super().__init__(field)
        self.precision, self.mlp = precision, mlp
        self.dtype = _dtype(precision)
        self.folded: FoldedMLP | None = (
            fold_mlp(field.mlp, field.weights, field.cond, self.dtype) if mlp == "folded" else None
        )

    def query(self, points: Tensor) -> FieldOutput:
        """points [S, N, 3] -> sigma [S, N], rgb [S, N, 3] (float32)."""
        f = self.base
        feats = f.grid(points)  # [S, N, G] float32
        profiling.mark("grid")
        with matmul_precision(self.precision, points.device):
            if self.folded is not None and not torch.is_grad_enabled():
                raw = run_folded(self.folded, feats)
            elif self.dtype != torch.float32:
                with torch.autocast(points.device.type, dtype=self.dtype):
                    raw = scene_mlp(f.mlp, f.weights, feats, f.cond)
            else:
                raw = scene_mlp(f.mlp, f.weights, feats, f.cond)
        raw = raw.float()  # [S, N, out]
        profiling.mark("mlp")
        sigma, rgb = decode_outputs(f.mlp, raw, points)
        profiling.mark("decode")
        return FieldOutput(sigma, rgb)


class AutocastField(FieldWrapper):
    """Any field with its `query` under torch.autocast(dtype) (tf32: TF32 matmuls); outputs
    back to float32."""

    def __init__(self, field: RadianceField, precision: Precision) -> None:
        super().__init__(field)
        self.precision = precision
        self.dtype = _dtype(precision)

    def query(self, points: Tensor) -> FieldOutput:
        if self.dtype == torch.float32:
            with matmul_precision(self.precision, points.device):
                return self.base.query(points)
        with torch.autocast(points.device.type, dtype=self.dtype):
            out = self.base.query(points)
        return FieldOutput(out.sigma.float(), out.rgb.float())


def inference_field(
    field: RadianceField,
    precision: Precision = "fp32",
    mlp: MLPImpl = "reference",
    *,
    split_stages: bool = False,
) -> RadianceField:
    """The field to query for a no-grad render under these options (see the module docstring).

    split_stages: wrap a SceneField even with the defaults (bit-identical maths) so a profiling
    timer sees its grid / mlp / decode stages separately.
    """
    _dtype(precision)
    if isinstance(field, (InferenceSceneField, AutocastField)):
        if precision == "fp32" and mlp == "reference":
            return field  # already prepared (e.g. by an outer call)
        field = field.base
    default = precision == "fp32" and mlp == "reference"
    if isinstance(field, SceneField):
        if default and not split_stages:
            return field
        return InferenceSceneField(field, precision, mlp)
    if mlp not in ("reference", "folded"):
        raise UsageError(f"unknown mlp layout {mlp!r}", "use reference or folded")
    return field if precision == "fp32" else AutocastField(field, precision)
