"""One finetuned NeRF: its own MLP weights, conditioning vector, grid and background.

`hyperfields finetune` optimises this single-scene field, started either from a student's
prediction for the prompt (weights, cond, the student's grid table and background: one
forward pass, then copies) or from a random initialisation (the from-scratch baseline). Both
starts share the architecture, so only the initialisation differs. Saved like the student:
`config.json` (this pydantic config) + `model.safetensors` (weights only).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from safetensors.torch import load_file
from torch import Tensor, nn

from hyperfields_cli.errors import IntegrityError, NotFoundError
from hyperfields_cli.field.background import BackgroundMLP
from hyperfields_cli.field.grid import Backend, GridConfig, GridEncoding
from hyperfields_cli.field.mlp import SceneMLPConfig
from hyperfields_cli.field.scene_field import SceneField
from hyperfields_cli.hypernet.model import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    BackgroundConfig,
    HyperFieldsConfig,
    HyperFieldsModel,
    load_state_strict,
    write_pretrained,
)
from hyperfields_cli.text.batch import TextBatch
from hyperfields_cli.text.encoder import DEFAULT_ENCODER


class FinetunedNeRFConfig(BaseModel):
    """Everything needed to rebuild a FinetunedNeRF; written as config.json."""

    model_config = ConfigDict(extra="forbid")

    model_type: Literal["finetuned-nerf"] = "finetuned-nerf"
    text_encoder: str = DEFAULT_ENCODER  # of the student it came from (for the manifest)
    grid: GridConfig = GridConfig()
    mlp: SceneMLPConfig = SceneMLPConfig()
    background: BackgroundConfig = BackgroundConfig()
    bound: float = 1.0

    @classmethod
    def like(cls, cfg: HyperFieldsConfig) -> FinetunedNeRFConfig:
        """The single-scene field with the same grid, MLP and background as a student."""
        mlp = cfg.mlp.model_copy(update={"grid_dim": cfg.grid.out_dim})
        return cls(
            text_encoder=cfg.text_encoder,
            grid=cfg.grid,
            mlp=mlp,
            background=cfg.background,
            bound=cfg.bound,
        )


class FinetunedNeRF(nn.Module):
    """weights[i] [1, out_i, in_i], cond [1, C], a grid and a background, all trainable."""

    def __init__(self, cfg: FinetunedNeRFConfig, grid_backend: Backend = "auto") -> None:
        super().__init__()
        self.config = cfg
        self.mlp_cfg = cfg.mlp.model_copy(update={"grid_dim": cfg.grid.out_dim})
        self.grid = GridEncoding(cfg.grid, cfg.bound, backend=grid_backend)
        # He init, as DirectNeRF: the from-scratch start. from_student overwrites all of it.
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(1, o, i) * math.sqrt(2.0 / i))
            for o, i in self.mlp_cfg.layer_shapes()
        )
        self.cond = nn.Parameter(torch.zeros(1, self.mlp_cfg.cond_dim))
        bg = cfg.background
        self.background = BackgroundMLP(bg.hidden, bg.frequencies, bg.init_color)

    @property
    def device(self) -> torch.device:
        return self.grid.table.device

    def field(self) -> SceneField:
        """The differentiable one-scene field the renderer queries."""
        return SceneField(self.grid, self.mlp_cfg, list(self.weights), self.cond, self.background)

    @classmethod
    def scratch(
        cls, cfg: FinetunedNeRFConfig, seed: int = 0, grid_backend: Backend = "auto"
    ) -> FinetunedNeRF:
        """A random start (the baseline), reproducible from `seed`."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(cfg, grid_backend)

    @classmethod
    @torch.no_grad()
    def from_student(
        cls,
        model: HyperFieldsModel,
        text: TextBatch,
        probe_points: Tensor | None = None,
        grid_backend: Backend = "auto",
    ) -> FinetunedNeRF:
        """Bake the model's prediction for the one prompt of `text` (+ its grid, background)."""
        if len(text) != 1:
            raise ValueError(f"from_student takes one prompt, got {len(text)}")
        was_training = model.training
        model.eval()
        weights, cond = model.predict_weights(text, probe_points)  # [[1, o, i]], [1, C]
        model.train(was_training)
        out = cls(FinetunedNeRFConfig.like(model.config), grid_backend).to(model.device)
        for p, w in zip(out.weights, weights, strict=True):
            p.copy_(w)
        out.cond.copy_(cond)
        out.grid.table.copy_(model.grid.table)
        out.background.load_state_dict(model.background.state_dict())
        return out

    # -- persistence ---------------------------------------------------------------------

    def save_pretrained(self, save_directory: str | Path) -> Path:
        """Write config.json + model.safetensors (fp32)."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": "pt", "library": "hyperfields", "model_type": "finetuned-nerf"}
        write_pretrained(folder, self, self.config, meta)
        return folder

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path,
        device: torch.device | str | None = None,
        grid_backend: Backend = "auto",
    ) -> FinetunedNeRF:
        """Load a folder written by save_pretrained; strict, names every mismatch."""
        folder = Path(folder).expanduser()
        cfg_file, weights_file = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        for f in (cfg_file, weights_file):
            if not f.is_file():
                raise NotFoundError(f"{f} not found", "a finetuned NeRF folder holds both files")
        try:
            cfg = FinetunedNeRFConfig.model_validate_json(cfg_file.read_text())
        except ValidationError as e:
            raise IntegrityError(f"{cfg_file} is not a finetuned-NeRF config:\n{e}") from e
        model = cls(cfg, grid_backend)
        load_state_strict(model, load_file(str(weights_file)), source=str(weights_file))
        if device is not None:
            model.to(device)
        return model.eval()
