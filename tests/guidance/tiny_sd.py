"""Tiny random-weight Stable Diffusion folders for offline tests.

`build_tiny_sd(path)` writes a folder laid out like a Stable Diffusion repo on the Hub
(model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/; safetensors weights), so
tests load it through the same `from_pretrained` path users hit. Reusable by any test:

    from tests.guidance.tiny_sd import build_tiny_sd  # repo root on sys.path (python -m pytest)
    sd_dir = build_tiny_sd(tmp_path / "tiny-sd")      # ~1 s; then SDSConfig(model_id=str(sd_dir))

Inside tests/guidance pytest puts this folder on sys.path, so `from tiny_sd import ...` works.
Components: UNet 2 levels (32, 64) with cross_attention_dim 32 (latents of any size divisible by
2), VAE 4 blocks (downsamples 8), CLIP text encoder hidden 32 / 2 layers, PNDM scheduler config
as in SD 1.x repos.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
TEXT_DIM = 32  # CLIP hidden size == UNet cross_attention_dim
DEFAULT_WORDS = (
    "a", "an", "of", "the", "pot", "bowl", "yarn", "gold", "wood", "blender", "chair", "made",
    "front", "side", "back", "overhead", "view", "ugly", "blurry",
)  # fmt: skip


def write_clip_vocab(folder: Path, words: tuple[str, ...] = DEFAULT_WORDS) -> tuple[Path, Path]:
    """Write a small valid CLIP BPE vocab.json + merges.txt into `folder`.

    The base alphabet is all 256 byte-level symbols, plain and word-final (`</w>`), so any text
    tokenizes; each word in `words` also merges left to right into one token.
    """
    from tokenizers import pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = [BOS, EOS, *alphabet, *(c + "</w>" for c in alphabet)]
    known, merges = set(tokens), []
    for word in words:
        symbols = [*word[:-1], word[-1] + "</w>"]
        current = symbols[0]
        for sym in symbols[1:]:
            merged = current + sym
            if merged not in known:
                merges.append(f"{current} {sym}")
                known.add(merged)
                tokens.append(merged)
            current = merged
    folder.mkdir(parents=True, exist_ok=True)
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    merges_path.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return vocab_path, merges_path


def make_clip_tokenizer(folder: Path):
    """A CLIPTokenizer over the generated vocab (max length 77, as Stable Diffusion's)."""
    from transformers import CLIPTokenizer

    vocab_path, merges_path = write_clip_vocab(folder)
    return CLIPTokenizer(str(vocab_path), str(merges_path), model_max_length=77)


def tiny_components(vocab_size: int, seed: int = 0) -> dict[str, torch.nn.Module]:
    """Random tiny UNet (2 levels), VAE (4 blocks -> /8) and CLIP text encoder (hidden 32)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    # Cross-attention only on the coarse level: 64x64 latents (512 renders) stay cheap on CPU.
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=TEXT_DIM,
        attention_head_dim=8, norm_num_groups=32,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, sample_size=64,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16), norm_num_groups=4,
    )  # fmt: skip
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=TEXT_DIM,
            intermediate_size=37,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder}


def sd_scheduler():
    """The scheduler config Stable Diffusion 1.x repos ship (PNDM, scaled-linear betas)."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
        beta_schedule="scaled_linear", skip_prk_steps=True, steps_offset=1,
        set_alpha_to_one=False,
    )  # fmt: skip


def build_tiny_sd(path: str | Path, seed: int = 0) -> Path:
    """Write a tiny random-weight Stable Diffusion folder at `path` and return it."""
    import diffusers

    path = Path(path)
    tokenizer = make_clip_tokenizer(path / "tokenizer")
    tokenizer.save_pretrained(path / "tokenizer")
    # SD repos ship vocab.json + merges.txt only: load through that path, not tokenizer.json.
    (path / "tokenizer" / "tokenizer.json").unlink(missing_ok=True)
    modules = tiny_components(len(tokenizer), seed=seed)
    for name, module in modules.items():
        module.save_pretrained(path / name, safe_serialization=True)
    sd_scheduler().save_pretrained(path / "scheduler")
    index = {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": diffusers.__version__,
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "safety_checker": [None, None],
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
    }
    (path / "model_index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return path
