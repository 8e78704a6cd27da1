"""Find and load Stable Diffusion components (diffusers layout), with one clear error when absent.

A Hub id is first resolved to a local snapshot with `snapshot_download`, fetching only the files
SDS needs (configs, tokenizer, UNet/VAE/text-encoder safetensors; not the safety checker, the
single-file checkpoints or pickled weights), so every load below reads a local folder. Hub and
network failures then surface in one place and become a `UserError` that says how to get the
weights; a local folder skips the Hub entirely.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hyperfields_cli.errors import UserError

COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
WEIGHTED = ("unet", "vae", "text_encoder")
LAYOUT = "a diffusers layout: unet/ vae/ text_encoder/ tokenizer/ scheduler/"


@dataclass
class SDComponents:
    """The parts SDS uses; the text encoder is optional so it can be dropped after caching."""

    unet: Any  # diffusers.UNet2DConditionModel
    vae: Any  # diffusers.AutoencoderKL
    scheduler: Any  # diffusers.DDPMScheduler (only alphas_cumprod / add_noise are used)
    tokenizer: Any  # transformers.CLIPTokenizer
    text_encoder: Any | None  # transformers.CLIPTextModel


def allow_patterns(variant: str | None = None) -> tuple[list[str], list[str]]:
    """(include, exclude) globs of the repo files SDS needs; variant e.g. "fp16"."""
    weights = "*.safetensors" if variant is None else f"*.{variant}.safetensors"
    include = ["model_index.json", "*/*.json", "tokenizer/*"]  # configs are a few kB each
    include += [f"{sub}/{weights}" for sub in WEIGHTED]
    # Without a variant skip "name.fp16.safetensors"-style files (one dot = the plain weights).
    exclude = ["*.*.safetensors"] if variant is None else []
    return include, exclude


def download_command(model_id: str, revision: str | None, variant: str | None) -> str:
    include, exclude = allow_patterns(variant)
    args = [f"hf download {model_id}"] + ([f"--revision {revision}"] if revision else [])
    args += [f'--include "{p}"' for p in include] + [f'--exclude "{p}"' for p in exclude]
    return " ".join(args)


def _offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
    return flag or bool(constants.HF_HUB_OFFLINE)


def _network_errors() -> tuple[type[BaseException], ...]:
    try:  # huggingface_hub >= 1.0 talks httpx; older versions requests (whose errors are OSError)
        import httpx
    except ImportError:
        return ()
    return (httpx.HTTPError,)


def _looks_like_path(model_id: str) -> bool:
    return (
        model_id.startswith((".", "~", "/"))
        or "\\" in model_id
        or model_id.count("/") > 1
        or os.path.isabs(model_id)
    )


def resolve_sd_folder(
    model_id: str, revision: str | None = None, variant: str | None = None
) -> Path:
    """A local folder with the SD layout: `model_id` itself if it is one, else a Hub snapshot."""
    local = Path(model_id).expanduser()
    if local.is_dir():
        check_layout(local, variant)
        return local
    if _looks_like_path(model_id) or local.exists():
        raise UserError(
            f"No Stable Diffusion folder at {model_id}",
            hint=f"--sd-model takes a Hub id (e.g. stable-diffusion-v1-5/stable-diffusion-v1-5) "
            f"or a local folder ({LAYOUT})",
        )
    from huggingface_hub import errors as hub_errors
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    # huggingface_hub >= 1.x says so when a cached snapshot lacks files; older ones don't.
    incomplete = getattr(hub_errors, "IncompleteSnapshotError", LocalEntryNotFoundError)

    include, exclude = allow_patterns(variant)
    at = f" (revision {revision})" if revision else ""
    get = (
        f"run once with network access to fetch them into the Hugging Face cache, or on a "
        f"connected machine: `{download_command(model_id, revision, variant)}` (older "
        f"huggingface_hub: `huggingface-cli download` with the same arguments) and copy the "
        f"cache; or pass --sd-model /path/to/local/folder ({LAYOUT})"
    )
    try:
        folder = snapshot_download(
            model_id,
            revision=revision,
            allow_patterns=include,
            ignore_patterns=exclude or None,
            local_files_only=_offline(),
        )
    except GatedRepoError as e:
        raise UserError(
            f"Stable Diffusion model '{model_id}' is gated on the Hugging Face Hub",
            hint="accept its license on its Hub page and log in with `hf auth login`, "
            "or pass --sd-model /path/to/a/local/copy",
        ) from e
    except RevisionNotFoundError as e:
        raise UserError(
            f"Revision '{revision}' does not exist for '{model_id}'",
            hint="pass a branch, tag or commit of that repo",
        ) from e
    except RepositoryNotFoundError as e:
        raise UserError(
            f"Stable Diffusion model '{model_id}' was not found on the Hugging Face Hub",
            hint="check the id (e.g. stable-diffusion-v1-5/stable-diffusion-v1-5), log in with "
            "`hf auth login` if it is private, or pass --sd-model /path/to/local/folder",
        ) from e
    except HFValidationError as e:
        raise UserError(
            f"'{model_id}' is neither a local folder nor a Hub model id",
            hint=f"pass a Hub id or a local folder ({LAYOUT})",
        ) from e
    except (LocalEntryNotFoundError, incomplete) as e:
        why = "HF_HUB_OFFLINE is set" if _offline() else "the Hugging Face Hub cannot be reached"
        raise UserError(
            f"Stable Diffusion weights '{model_id}'{at} are not (fully) in the local cache and "
            f"{why}",
            hint=("unset HF_HUB_OFFLINE and " if _offline() else "") + get,
        ) from e
    except (OSError, HfHubHTTPError, *_network_errors()) as e:
        raise UserError(
            f"Could not download Stable Diffusion '{model_id}'{at}: {e}", hint=get
        ) from e
    folder = Path(folder)
    check_layout(folder, variant, model_id=model_id)
    return folder


def check_layout(folder: Path, variant: str | None = None, model_id: str | None = None) -> None:
    """Fail early, with the folder named, when a component or its safetensors weights are absent."""
    where = f"'{model_id}' (cached at {folder})" if model_id else str(folder)
    missing = [c for c in COMPONENTS if not (folder / c).is_dir()]
    if missing:
        raise UserError(
            f"{where} is not a complete Stable Diffusion folder: no {', '.join(missing)}",
            hint=f"expected {LAYOUT}",
        )
    pattern = "*.safetensors" if variant is None else f"*.{variant}.safetensors"
    unsafe = [c for c in WEIGHTED if not any((folder / c).glob(pattern))]
    if unsafe:
        raise UserError(
            f"{where} has no {pattern} weights in {', '.join(unsafe)}",
            hint="hyperfields loads safetensors only (never pickled .bin/.ckpt); download the "
            "safetensors files, or set the weight variant (e.g. fp16) to match the files present",
        )


def _model_kwargs() -> dict[str, Any]:
    # Without accelerate diffusers warns and falls back; ask for the fallback quietly.
    return {} if importlib.util.find_spec("accelerate") else {"low_cpu_mem_usage": False}


def load_text_encoder(
    folder: Path, dtype: torch.dtype, device: torch.device, variant: str | None = None
) -> Any:
    """The frozen CLIP text encoder (loaded again only if prompts change after it was dropped)."""
    from transformers import CLIPTextModel

    try:
        enc = CLIPTextModel.from_pretrained(
            folder, subfolder="text_encoder", use_safetensors=True, variant=variant
        )
    except OSError as e:
        raise UserError(f"Could not load the text encoder from {folder}: {e}") from e
    return enc.to(device=device, dtype=dtype).eval().requires_grad_(False)


def load_components(
    folder: Path, dtype: torch.dtype, device: torch.device, variant: str | None = None
) -> SDComponents:
    """UNet, VAE, tokenizer, scheduler and text encoder from a local SD folder, frozen."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTokenizer

    kw = {"use_safetensors": True, "torch_dtype": dtype, "variant": variant, **_model_kwargs()}
    try:
        scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler")
        tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
        unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", **kw)
        vae = AutoencoderKL.from_pretrained(folder, subfolder="vae", **kw)
    except OSError as e:
        raise UserError(
            f"Could not load Stable Diffusion from {folder}: {e}",
            hint=f"expected {LAYOUT} with safetensors weights",
        ) from e
    unet = unet.to(device).eval().requires_grad_(False)
    vae = vae.to(device).eval().requires_grad_(False)
    text_encoder = load_text_encoder(folder, dtype, device, variant)
    return SDComponents(unet, vae, scheduler, tokenizer, text_encoder)
