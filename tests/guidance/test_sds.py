"""SDS gradient: exact w(t)(eps_pred - eps) on the latents, frozen UNet, gradient to the renders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from hyperfields_cli.guidance.sds import SDSConfig, StableDiffusionGuidance
from hyperfields_cli.guidance.views import FRONT, OVERHEAD, SIDE, VIEWS

PROMPTS = ["a yarn pot", "a gold bowl"]


@pytest.fixture
def guidance(tiny_sd_dir: Path) -> StableDiffusionGuidance:
    # latent_size 64 -> 8x8 latents: the same code path as 512 -> 64x64, fast on CPU.
    cfg = SDSConfig(model_id=str(tiny_sd_dir), latent_size=64, render_size=16)
    g = StableDiffusionGuidance.from_pretrained(cfg, "cpu")
    g.prepare_prompts(PROMPTS)
    return g


def _batch(seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(2, 16, 16, 3, generator=gen).requires_grad_(True)  # [B, H, W, 3]
    return images, torch.tensor([0, 1]), torch.tensor([60.0, 10.0]), torch.tensor([0.0, 90.0])


def _encode(folder: Path, text: str) -> torch.Tensor:
    """Independent text embedding [1, 77, D] straight from the folder's tokenizer + encoder."""
    from transformers import CLIPTextModel, CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
    enc = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder")
    ids = tok([text], padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        return enc(ids)[0]


def test_gradient_on_latents_is_weighted_noise_residual(guidance, tiny_sd_dir):
    images, ids, polar, az = _batch()
    t = torch.tensor([100, 700])
    noise = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    out = guidance.step(
        images, ids, polar, az, t=t, noise=noise, generator=torch.Generator().manual_seed(2)
    )
    out.latents.retain_grad()
    out.loss.backward()
    assert torch.equal(out.latents.grad, out.grad)  # injected exactly, not up to rounding

    # Recompute w(t)(eps_pred - eps) independently: own noising, separate CFG branches.
    ab = guidance.scheduler.alphas_cumprod[t].view(2, 1, 1, 1).float()
    z = out.latents.detach()
    noisy = ab.sqrt() * z + (1 - ab).sqrt() * noise
    cond = torch.cat(
        [
            _encode(tiny_sd_dir, "a yarn pot, front view"),  # polar 60, az 0
            _encode(tiny_sd_dir, "a gold bowl, overhead view"),
        ]
    )  # polar 10
    uncond = _encode(tiny_sd_dir, "").expand(2, -1, -1)
    with torch.no_grad():
        e_c = guidance.unet(noisy, t, encoder_hidden_states=cond).sample
        e_u = guidance.unet(noisy, t, encoder_hidden_states=uncond).sample
    expected = (1 - ab) * (e_u + 100.0 * (e_c - e_u) - noise)
    torch.testing.assert_close(out.grad, expected, rtol=1e-4, atol=1e-4)
    assert (out.grad + (1 - ab) * noise).abs().mean() > 1e-2  # the UNet term is not negligible
    assert out.view.tolist() == [FRONT, OVERHEAD]
    assert out.loss.item() == pytest.approx(0.5 * out.grad.square().sum().item(), rel=1e-5)


def test_no_gradient_reaches_frozen_models(guidance):
    images, ids, polar, az = _batch()
    guidance.loss(images, ids, polar, az).backward()
    for module in (guidance.unet, guidance.vae):
        for p in module.parameters():
            assert not p.requires_grad and p.grad is None
    assert guidance.text_encoder is None  # dropped after caching the embeddings


def test_gradient_flows_back_to_images_through_vae(guidance):
    images, ids, polar, az = _batch()
    out = guidance.step(images, ids, polar, az, generator=torch.Generator().manual_seed(3))
    (3.0 * out.loss).backward()
    assert images.grad is not None and torch.isfinite(images.grad).all()
    assert images.grad.abs().sum() > 0
    # d loss / d images is the VAE-encoder VJP of the injected latent gradient (scaled by 3).
    again = guidance.encode_images(images, torch.Generator().manual_seed(3))
    (vjp,) = torch.autograd.grad(again, images, grad_outputs=out.grad)
    torch.testing.assert_close(images.grad, 3.0 * vjp)


def test_timesteps_and_reproducibility(guidance):
    images, ids, polar, az = _batch()
    ts = guidance.sample_t(4000, torch.Generator().manual_seed(0))
    assert ts.min() == 20 and ts.max() == 980  # U[0.02, 0.98] of 1000 train steps, inclusive
    a = guidance.step(images, ids, polar, az, generator=torch.Generator().manual_seed(5))
    b = guidance.step(images, ids, polar, az, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.t, b.t) and torch.equal(a.grad, b.grad)
    c = guidance.step(images, ids, polar, az, t=500)  # scalar t broadcast to the batch
    assert c.t.tolist() == [500, 500]


def test_prompt_embeddings_cached_per_view(guidance, tiny_sd_dir):
    assert guidance._cond.shape == (2, len(VIEWS), 77, 32)
    assert guidance.dtype == torch.float32  # fp16 only on CUDA
    emb, view = guidance.text_embeddings(
        torch.tensor([1]), torch.tensor([70.0]), torch.tensor([-100.0])
    )
    assert view.tolist() == [SIDE]
    torch.testing.assert_close(emb, _encode(tiny_sd_dir, "a gold bowl, side view"))
    torch.testing.assert_close(guidance._uncond, _encode(tiny_sd_dir, ""))
    guidance.prepare_prompts(["a wood chair"])  # reloads the dropped text encoder from disk
    assert guidance.prompts == ["a wood chair"] and guidance.text_encoder is None
    with pytest.raises(IndexError):
        guidance.text_embeddings(torch.tensor([1]), torch.tensor([70.0]), torch.tensor([0.0]))


def test_view_independent_and_config_checks(tiny_sd_dir):
    cfg = SDSConfig(
        model_id=str(tiny_sd_dir),
        latent_size=64,
        view_dependent=False,
        negative_prompt="ugly, blurry",
    )
    g = StableDiffusionGuidance.from_pretrained(cfg, "cpu")
    g.prepare_prompts(["a yarn pot"])
    emb, view = g.text_embeddings(torch.tensor([0]), torch.tensor([5.0]), torch.tensor([180.0]))
    assert view.tolist() == [0] and g._cond.shape[1] == 1
    torch.testing.assert_close(emb, _encode(tiny_sd_dir, "a yarn pot"))
    torch.testing.assert_close(g._uncond, _encode(tiny_sd_dir, "ugly, blurry"))
    with pytest.raises(ValidationError):
        SDSConfig(t_range=(0.5, 0.2))
    with pytest.raises(ValidationError):
        SDSConfig(latent_size=100)
    with pytest.raises(ValueError, match="B, H, W, 3"):
        g.loss(
            torch.rand(1, 3, 16, 16), torch.tensor([0]), torch.tensor([60.0]), torch.tensor([0.0])
        )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_step(tiny_sd_dir):
    cfg = SDSConfig(model_id=str(tiny_sd_dir), latent_size=64)
    g = StableDiffusionGuidance.from_pretrained(cfg, "cuda")
    assert g.dtype == torch.float16 and g.vae.dtype == torch.float16
    g.prepare_prompts(PROMPTS)
    images = torch.rand(2, 16, 16, 3, device="cuda", requires_grad=True)
    ids, polar, az = torch.tensor([0, 1]), torch.tensor([60.0, 10.0]), torch.tensor([0.0, 90.0])
    out = g.step(images, ids, polar, az, generator=torch.Generator("cuda").manual_seed(0))
    out.latents.retain_grad()
    out.loss.backward()
    assert out.latents.dtype == torch.float32 and torch.equal(out.latents.grad, out.grad)
    assert images.grad is not None and torch.isfinite(images.grad).all()
    assert all(p.grad is None for p in g.unet.parameters())
