"""The HyperFields model (teacher or student): hypernetwork + shared grid + shared background.

Only the MLP weights are predicted per prompt; the grid and background are trained directly
and shared by all scenes (paper). Saved diffusers-style as `config.json` (the pydantic config,
enough to rebuild the module) + `model.safetensors` (weights only). We write these two methods
ourselves instead of PyTorchModelHubMixin: we need an fp16 cast for shipping, strict loading
that names every mismatch, and no model card (artifacts/ writes the README and manifest).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from hyperfields_cli.errors import IntegrityError, NotFoundError, UserError
from hyperfields_cli.field.background import BackgroundMLP
from hyperfields_cli.field.grid import Backend, GridConfig, GridEncoding
from hyperfields_cli.field.mlp import ColourModel, SceneMLPConfig
from hyperfields_cli.field.scene_field import SceneField
from hyperfields_cli.host import to_device
from hyperfields_cli.hypernet.hypernet import Arch, HyperNetConfig, HyperNetwork
from hyperfields_cli.text.batch import TextBatch
from hyperfields_cli.text.encoder import DEFAULT_ENCODER

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class ProbeConfig(BaseModel):
    """Points whose layer activations the dynamic hypernet pools.

    Default: 4096 points uniform in a ball of radius 0.7. Objects live inside radius ~0.6
    (CONVENTIONS), so a ball just larger than that spends the probes on the object and its
    rim; the cube [-1, 1]^3 would put ~82% of them in empty corners whose activations say
    little about the scene. 4096 points make the pooled mean's sampling noise ~1.5% of a
    unit's spread, small next to scene-to-scene differences.
    """

    num_points: int = Field(4096, ge=1)
    seed: int = 0
    distribution: Literal["ball", "cube"] = "ball"
    radius: float = Field(0.7, gt=0, description="ball radius in world units (ball only)")


class BackgroundConfig(BaseModel):
    hidden: int = Field(32, ge=1)
    frequencies: int = Field(4, ge=0)
    init_color: float = 1.0


class HyperFieldsConfig(BaseModel):
    """Everything needed to rebuild a HyperFieldsModel; written as config.json."""

    model_config = ConfigDict(extra="forbid")

    model_type: Literal["hyperfields"] = "hyperfields"
    arch: Arch = "dynamic"
    text_encoder: str = DEFAULT_ENCODER
    text_revision: str | None = None
    text_dim: int = Field(384, ge=1)
    hypernet: HyperNetConfig = HyperNetConfig()
    grid: GridConfig = GridConfig()
    mlp: SceneMLPConfig = SceneMLPConfig()
    background: BackgroundConfig = BackgroundConfig()
    probe: ProbeConfig = ProbeConfig()
    bound: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _sync_grid_dim(self) -> HyperFieldsConfig:
        """The MLP's grid input is whatever the grid emits; keep the JSON consistent."""
        if self.mlp.grid_dim != self.grid.out_dim:
            self.mlp = self.mlp.model_copy(update={"grid_dim": self.grid.out_dim})
        return self

    def with_student(self, arch: Arch, colour_model: ColourModel) -> HyperFieldsConfig:
        """This config with another arch and colour model (validated: out_dim follows)."""
        data = self.model_dump()
        data["arch"] = arch
        data["mlp"]["colour_model"] = colour_model
        return HyperFieldsConfig.model_validate(data)

    @classmethod
    def paper(cls, **overrides: object) -> HyperFieldsConfig:
        """The paper's sizes: full-rank modulation, 6x256 transformer, 2^19 grid."""
        return cls.model_validate(
            {"hypernet": HyperNetConfig(modulation_rank=None).model_dump(), **overrides}
        )

    @classmethod
    def compact(cls, **overrides: object) -> HyperFieldsConfig:
        """A built-in student that ships in < 15 MB as fp16: the paper's 6x256 transformer with
        a 2x feed-forward, 128-wide rank-8 heads and 2^16-row grid levels (~6.4M params)."""
        hyper = HyperNetConfig(ffn_mult=2.0, head_hidden=128, modulation_rank=8)
        grid = GridConfig(log2_table_size=16)
        return cls.model_validate(
            {"hypernet": hyper.model_dump(), "grid": grid.model_dump(), **overrides}
        )


def sample_probe_points(
    cfg: ProbeConfig,
    bound: float,
    n: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """n (default cfg.num_points) probe points [n, 3] drawn from cfg.distribution."""
    n = cfg.num_points if n is None else n
    if cfg.distribution == "cube":
        pts = (torch.rand(n, 3, generator=generator) * 2 - 1) * bound  # [n, 3]
    else:
        d = torch.randn(n, 3, generator=generator)
        d = d / d.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # [n, 3] unit directions
        r = torch.rand(n, 1, generator=generator).pow(1.0 / 3.0) * min(cfg.radius, bound)
        pts = d * r  # [n, 3] uniform in the ball
    return to_device(pts, device) if device is not None else pts


class HyperFieldsModel(nn.Module):
    """TextBatch -> SceneField: predicted MLP weights over a shared, directly trained grid."""

    def __init__(
        self, cfg: HyperFieldsConfig | None = None, grid_backend: Backend = "auto"
    ) -> None:
        super().__init__()
        self.config = cfg = cfg or HyperFieldsConfig()
        self.mlp_cfg: SceneMLPConfig = cfg.mlp
        self.hypernet = HyperNetwork(cfg.hypernet, self.mlp_cfg, cfg.text_dim, cfg.arch)
        self.grid = GridEncoding(cfg.grid, cfg.bound, backend=grid_backend)
        bg = cfg.background
        self.background = BackgroundMLP(bg.hidden, bg.frequencies, bg.init_color)
        gen = torch.Generator().manual_seed(cfg.probe.seed)
        # Rebuilt from the config on every load (deterministic), so never saved.
        self.register_buffer(
            "probe_points",
            sample_probe_points(cfg.probe, cfg.bound, generator=gen),
            persistent=False,
        )

    @property
    def device(self) -> torch.device:
        return self.grid.table.device

    def random_probe_points(
        self, n: int | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Fresh probe points [n, 3] on the model's device (training resamples each step)."""
        return sample_probe_points(self.config.probe, self.config.bound, n, generator, self.device)

    def predict_weights(
        self, text: TextBatch, probe_points: Tensor | None = None
    ) -> tuple[list[Tensor], Tensor]:
        """-> (weights [[B, out, in]], cond [B, C]); probe_points [P, 3] or [B, P, 3]."""
        text = text.to(self.device)
        feats = None
        if self.hypernet.uses_probe:
            pts = self.probe_points if probe_points is None else probe_points.to(self.device)
            with torch.no_grad():  # the stat path is detached anyway: no grid gradient here
                feats = self.grid(pts)  # [P, G] or [B, P, G]
        return self.hypernet.predict(text, feats)

    def scene_field(self, text: TextBatch, probe_points: Tensor | None = None) -> SceneField:
        """The differentiable field of the B prompts in `text`."""
        weights, cond = self.predict_weights(text, probe_points)
        return SceneField(self.grid, self.mlp_cfg, weights, cond, self.background)

    def forward(self, text: TextBatch, probe_points: Tensor | None = None) -> SceneField:
        return self.scene_field(text, probe_points)

    # -- persistence ---------------------------------------------------------------------

    def save_pretrained(self, save_directory: str | Path, dtype: torch.dtype | None = None) -> Path:
        """Write config.json + model.safetensors (floats cast to `dtype`, e.g. fp16 to ship)."""
        out = Path(save_directory)
        out.mkdir(parents=True, exist_ok=True)
        meta = {"format": "pt", "library": "hyperfields", "arch": self.config.arch}
        write_pretrained(out, self, self.config, meta, dtype)
        return out

    @classmethod
    def from_pretrained(
        cls,
        dir_or_repo: str | Path,
        device: torch.device | str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        grid_backend: Backend = "auto",
    ) -> HyperFieldsModel:
        """Load from a local folder (no network) or a Hub repo id; strict, loud on mismatch."""
        cfg_file, weights_file = _resolve_files(dir_or_repo, revision, local_files_only, token)
        try:
            cfg = HyperFieldsConfig.model_validate_json(cfg_file.read_text())
        except ValidationError as e:
            raise IntegrityError(f"{cfg_file} is not a valid HyperFields config:\n{e}") from e
        model = cls(cfg, grid_backend=grid_backend)
        load_state_strict(model, load_file(str(weights_file)), source=str(weights_file))
        if device is not None:
            model.to(device)
        return model.eval()

    def num_parameters(self) -> dict[str, int]:
        """Parameter counts per part (hypernet, grid, background) and in total."""
        parts = {
            name: sum(p.numel() for p in mod.parameters())
            for name, mod in (
                ("hypernet", self.hypernet),
                ("grid", self.grid),
                ("background", self.background),
            )
        }
        parts["total"] = sum(parts.values())
        return parts


def load_state_strict(model: nn.Module, state: dict[str, Tensor], source: str = "weights") -> None:
    """Load `state` into `model` (casting dtypes), raising IntegrityError that names every
    missing key, unexpected key and shape mismatch."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        lines = [f"{source} does not match the model built from its config.json:"]
        for title, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", shapes),
        ):
            if items:
                more = f" (+{len(items) - 8} more)" if len(items) > 8 else ""
                lines.append(f"  {title}: {', '.join(items[:8])}{more}")
        raise IntegrityError("\n".join(lines), hint="re-export the artifact or check its version")
    cast = {k: state[k].to(dtype=v.dtype) for k, v in expected.items()}
    model.load_state_dict(cast, strict=True)


def _resolve_files(
    dir_or_repo: str | Path, revision: str | None, local_files_only: bool, token: str | bool | None
) -> tuple[Path, Path]:
    folder = Path(dir_or_repo).expanduser()
    if folder.is_dir():
        files = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        for f in files:
            if not f.is_file():
                raise NotFoundError(
                    f"{f} not found",
                    hint="a model folder holds config.json and "
                    "model.safetensors (written by save_pretrained)",
                )
        return files
    name = str(dir_or_repo)
    if name.startswith(("/", ".", "~")) or name.count("/") != 1:
        raise NotFoundError(f"model folder {name!r} does not exist")
    from huggingface_hub import hf_hub_download

    try:
        got = [
            Path(
                hf_hub_download(
                    name, f, revision=revision, token=token, local_files_only=local_files_only
                )
            )
            for f in (CONFIG_NAME, WEIGHTS_NAME)
        ]
    except Exception as e:  # offline, missing repo or file, auth: all "cannot get it"
        raise UserError(
            f"could not fetch model {name!r}"
            + (f"@{revision}" if revision else "")
            + f": {type(e).__name__}",
            hint="check the repo id and network, or pass a local folder",
        ) from e
    return got[0], got[1]


def write_pretrained(
    folder: Path,
    module: nn.Module,
    config: BaseModel,
    metadata: dict[str, str],
    dtype: torch.dtype | None = None,
) -> None:
    """config.json + model.safetensors (floats cast to `dtype` if given), written atomically."""
    state = {
        k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
        .detach()
        .cpu()
        .contiguous()
        for k, v in module.state_dict().items()
    }
    _atomic_write(folder / WEIGHTS_NAME, lambda p: save_file(state, p, metadata=metadata))
    text = config.model_dump_json(indent=2) + "\n"
    _atomic_write(folder / CONFIG_NAME, lambda p: Path(p).write_text(text))


def _atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Write via a temp file in the same folder, then rename (no torn files on crash)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
