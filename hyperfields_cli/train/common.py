"""Pieces every training command shares: model set-up, param groups, artifact writing."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from hyperfields_cli.artifacts import Artifact, ArtifactStore, default_home
from hyperfields_cli.export import contact_sheet, save_image
from hyperfields_cli.hypernet.model import HyperFieldsConfig, HyperFieldsModel
from hyperfields_cli.text.batch import TextBatch
from hyperfields_cli.text.cache import encode_prompts
from hyperfields_cli.train.trainer import OptimConfig


def build_model(
    cfg: HyperFieldsConfig, prompts: Sequence[str], device: torch.device
) -> tuple[HyperFieldsModel, TextBatch]:
    """Encode prompts (through the cache) and build a model sized to the encoder's tokens."""
    text = encode_prompts(list(prompts), cfg.text_encoder, cfg.text_revision)
    if cfg.text_dim != text.dim:
        cfg = cfg.model_copy(update={"text_dim": text.dim})
    torch.manual_seed(0)
    model = HyperFieldsModel(cfg).to(device)
    return model, text.to(device)


def init_source(ref: str, store: ArtifactStore) -> tuple[HyperFieldsConfig, dict[str, Tensor]]:
    """Architecture and weights of an existing model artifact (store ref or folder)."""
    from safetensors.torch import load_file

    from hyperfields_cli.pipelines.student import resolve_student

    art = resolve_student(ref, store)
    cfg = HyperFieldsConfig.model_validate_json(art.config_path.read_text())
    return cfg, load_file(str(art.weights_path))


def param_groups(model: torch.nn.Module, optim: OptimConfig) -> list[dict]:
    """The grid gets its own (higher) learning rate, as in the paper."""
    grid = [p for n, p in model.named_parameters() if n.startswith("grid.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("grid.")]
    return [{"params": grid, "lr": optim.grid_lr}, {"params": rest, "lr": optim.lr}]


def run_dir_for(kind: str, name: str, run_dir: Path | None) -> Path:
    return run_dir or default_home() / "runs" / f"{kind}-{name}"


def command_line() -> str:
    return "hyperfields " + " ".join(sys.argv[1:]) if sys.argv else "hyperfields"


def sample_sheet(pred: Tensor, target: Tensor | None, labels: Sequence[str]) -> object:
    """pred/target [B, S, H, W, 3] -> one image: row per scene, pred (and target) per view."""
    tiles, names = [], []
    for s, label in enumerate(labels):
        for b in range(pred.shape[0]):
            tiles.append(pred[b, s].cpu())
            names.append(f"{label}" if b == 0 else "")
        if target is not None:
            for b in range(target.shape[0]):
                tiles.append(target[b, s].cpu())
                names.append("ground truth" if b == 0 else "")
    cols = pred.shape[0] * (2 if target is not None else 1)
    return contact_sheet(tiles, names, cols=cols)


def save_model_artifact(
    store: ArtifactStore,
    kind: str,
    name: str,
    model: HyperFieldsModel,
    prompts: Sequence[str],
    *,
    config: object,
    metrics: dict,
    sheet: object | None = None,
    parents: Sequence[Artifact] = (),
    notes: str = "",
    dtype: torch.dtype | None = None,
) -> Artifact:
    """Write model + sample renders as a new version of kind/name in the store."""

    def write(folder: Path) -> None:
        model.save_pretrained(folder, dtype=dtype)
        if sheet is not None:
            save_image(sheet, folder / "samples" / "validation.png")

    return store.save(
        kind,
        name,
        write,
        prompts=list(prompts),
        text_encoder=model.config.text_encoder,
        architecture=model.config,
        parents=parents,
        command=command_line(),
        config=config,
        metrics=metrics,
        notes=notes,
    )
