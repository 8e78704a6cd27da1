"""Finding Stable Diffusion weights: local folders, the Hub cache offline, one clear UserError."""

from __future__ import annotations

import shutil

import pytest
import torch

from hyperfields_cli.errors import UserError
from hyperfields_cli.guidance.sd_weights import allow_patterns
from hyperfields_cli.guidance.sds import SDSConfig, StableDiffusionGuidance


def _load(model_id: str, **kw) -> StableDiffusionGuidance:
    return StableDiffusionGuidance.from_pretrained(SDSConfig(model_id=model_id, **kw), "cpu")


def _says_how_to_get_weights(err: UserError, model_id: str) -> None:
    text = str(err)
    assert model_id in text
    assert f"hf download {model_id}" in text and "huggingface-cli download" in text
    assert "--sd-model" in text


def test_missing_local_folder(tmp_path):
    missing = tmp_path / "no-such-sd"
    with pytest.raises(UserError) as info:
        _load(str(missing))
    assert str(missing) in str(info.value) and "--sd-model" in str(info.value)


def test_unknown_id_offline(hub_cache, offline):
    with pytest.raises(UserError) as info:
        _load("someone/not-cached-sd")
    _says_how_to_get_weights(info.value, "someone/not-cached-sd")
    assert "HF_HUB_OFFLINE" in str(info.value)


def test_default_model_offline_names_it(hub_cache, offline):
    with pytest.raises(UserError) as info:
        _load(SDSConfig().model_id)
    _says_how_to_get_weights(info.value, "stable-diffusion-v1-5/stable-diffusion-v1-5")


def test_hub_unreachable(hub_cache, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(UserError) as info:
        _load("someone/not-cached-sd", revision="v1")
    _says_how_to_get_weights(info.value, "someone/not-cached-sd")
    assert "cannot be reached" in str(info.value) and "--revision v1" in str(info.value)


def test_hub_id_loads_from_cache_offline(tiny_sd_dir, hub_cache, offline):
    # Lay the tiny folder out as a cached Hub snapshot: the path a downloaded model takes.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub_cache / "models--someone--tiny-sd"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_sd_dir, repo / "snapshots" / commit)
    g = _load("someone/tiny-sd", latent_size=64)
    g.prepare_prompts(["a pot"])
    images = torch.rand(1, 8, 8, 3, requires_grad=True)
    g.loss(images, torch.tensor([0]), torch.tensor([50.0]), torch.tensor([0.0])).backward()
    assert images.grad is not None


def test_incomplete_or_unsafe_folder(tiny_sd_dir, tmp_path):
    broken = shutil.copytree(tiny_sd_dir, tmp_path / "no-unet")
    shutil.rmtree(broken / "unet")
    with pytest.raises(UserError, match="no unet"):
        _load(str(broken))
    pickled = shutil.copytree(tiny_sd_dir, tmp_path / "pickled")
    (pickled / "vae" / "diffusion_pytorch_model.safetensors").rename(
        pickled / "vae" / "diffusion_pytorch_model.bin"
    )
    with pytest.raises(UserError, match="safetensors"):
        _load(str(pickled))


def test_download_patterns_skip_unneeded_files():
    from huggingface_hub.utils import filter_repo_objects

    repo = [
        "model_index.json",
        "v1-5-pruned.ckpt",
        "v1-5-pruned.safetensors",
        "safety_checker/model.safetensors",
        "feature_extractor/preprocessor_config.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "unet/diffusion_pytorch_model.bin",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
        "text_encoder/model.fp16.safetensors",
        "tokenizer/vocab.json",
        "scheduler/scheduler_config.json",
    ]
    include, exclude = allow_patterns()
    kept = set(filter_repo_objects(repo, allow_patterns=include, ignore_patterns=exclude))
    assert kept == {
        "model_index.json",
        "feature_extractor/preprocessor_config.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
        "tokenizer/vocab.json",
        "scheduler/scheduler_config.json",
    }
    include, exclude = allow_patterns("fp16")
    kept = set(filter_repo_objects(repo, allow_patterns=include, ignore_patterns=exclude or None))
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in kept
    assert "unet/diffusion_pytorch_model.safetensors" not in kept
