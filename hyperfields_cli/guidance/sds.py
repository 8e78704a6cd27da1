"""Score Distillation Sampling (DreamFusion) on Stable Diffusion: the `sds` teaching guidance.

Default model: `stable-diffusion-v1-5/stable-diffusion-v1-5`. The paper used CompVis v1-4; v1-5 has
the same architecture, 512px latent space and text encoder, was trained longer from v1-2, and its
repo (maintained by the diffusers team) ships safetensors for every component, which we require.
Pass `--sd-model CompVis/stable-diffusion-v1-4` to match the paper exactly.

Step (as in the paper): render 64x64 -> bilinear upsample to 512 -> VAE encode (scaled by
`vae.config.scaling_factor`) -> t ~ U[0.02, 0.98] of the train timesteps -> add noise with the
scheduler -> UNet with classifier-free guidance (scale 100) under `torch.no_grad` -> gradient
w(t) (eps_pred - eps), w(t) = 1 - alpha_bar_t, injected into the latents.

Gradient injection: a custom autograd function (`_InjectGrad`), not the usual
`0.5 * ||z - (z - g).detach()||^2` trick, whose backward `z - (z - g)` differs from g by rounding.
Its backward returns exactly g (times the incoming scale), summed over the batch (no 1/B). Its
forward value, 0.5 * ||g||^2 (what the MSE trick evaluates to), is only for logging.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import Tensor

from hyperfields_cli.guidance.sd_weights import (
    SDComponents,
    load_components,
    load_text_encoder,
    resolve_sd_folder,
)
from hyperfields_cli.guidance.views import VIEWS, view_index, view_prompts

DEFAULT_SD_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"


class SDSConfig(BaseModel):
    """Settings of the SDS guidance (defaults: the HyperFields/DreamFusion values)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: str = DEFAULT_SD_MODEL  # Hub id or local diffusers folder (--sd-model)
    revision: str | None = None
    variant: str | None = None  # weight file variant, e.g. "fp16" (halves the download)
    guidance_scale: float = Field(100.0, ge=0.0)
    t_range: tuple[float, float] = (0.02, 0.98)  # fractions of the train timesteps
    render_size: int = Field(64, gt=0)  # what the trainer renders
    latent_size: int = Field(512, gt=0)  # renders are upsampled to this before the VAE
    fp16: bool = True  # UNet/VAE/text encoder in fp16 on CUDA (always fp32 on CPU)
    negative_prompt: str = ""  # the unconditional branch of classifier-free guidance
    view_dependent: bool = True  # append ", front/side/back/overhead view" by camera angle
    overhead_deg: float = 30.0  # polar below this -> "overhead"
    front_half_width_deg: float = 45.0  # |azimuth| below this -> "front", near 180 -> "back"

    @field_validator("t_range")
    @classmethod
    def _t_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.0 <= v[0] <= v[1] <= 1.0:
            raise ValueError("t_range must satisfy 0 <= low <= high <= 1")
        return v

    @field_validator("latent_size")
    @classmethod
    def _latent_size(cls, v: int) -> int:
        if v % 8:
            raise ValueError("latent_size must be a multiple of 8 (the VAE downsamples by 8)")
        return v


@dataclass
class SDSOutput:
    """One SDS evaluation; `loss.backward()` puts exactly `grad` on `latents`."""

    loss: Tensor  # scalar
    latents: Tensor  # [B, 4, h, w] fp32, in the graph (VAE encoder -> images)
    grad: Tensor  # [B, 4, h, w] fp32, w(t) (eps_pred - eps), detached
    t: Tensor  # [B] long
    noise: Tensor  # [B, 4, h, w] fp32, the eps added by the scheduler
    view: Tensor  # [B] long, index into VIEWS (0 when not view dependent)


class _InjectGrad(torch.autograd.Function):
    """loss(z) whose gradient w.r.t. z is exactly `grad` (scaled by the incoming gradient)."""

    @staticmethod
    def forward(ctx: Any, latents: Tensor, grad: Tensor) -> Tensor:
        ctx.save_for_backward(grad)
        return 0.5 * grad.square().sum()

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, None]:
        (grad,) = ctx.saved_tensors
        return grad * grad_out, None


class StableDiffusionGuidance:
    """Frozen Stable Diffusion that turns renders into SDS gradients.

    A plain class, not an nn.Module, so its ~1B frozen parameters never reach an optimizer or a
    checkpoint of the model being taught.
    """

    def __init__(
        self,
        config: SDSConfig,
        components: SDComponents,
        device: torch.device | str,
        text_encoder_loader: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self.device = torch.device(device)
        self.unet = components.unet.eval().requires_grad_(False)
        self.vae = components.vae.eval().requires_grad_(False)
        self.tokenizer = components.tokenizer
        self.text_encoder = components.text_encoder
        if self.text_encoder is not None:
            self.text_encoder.eval().requires_grad_(False)
        self._text_encoder_loader = text_encoder_loader
        self.dtype = next(self.unet.parameters()).dtype
        sched = components.scheduler
        self.scheduler = sched
        self.num_train_timesteps = int(sched.config.num_train_timesteps)
        self.min_step = round(config.t_range[0] * self.num_train_timesteps)
        self.max_step = min(
            round(config.t_range[1] * self.num_train_timesteps), self.num_train_timesteps - 1
        )
        self.alphas_cumprod = sched.alphas_cumprod.to(self.device, torch.float32)  # [T]
        self.prediction_type = sched.config.get("prediction_type", "epsilon")
        if self.prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"unsupported scheduler prediction_type {self.prediction_type!r}")
        self.scaling_factor = float(self.vae.config.scaling_factor)
        self.prompts: list[str] = []
        self._cond: Tensor | None = None  # [P, V, 77, D] V = len(VIEWS) or 1
        self._uncond: Tensor | None = None  # [1, 77, D]

    @classmethod
    def from_pretrained(
        cls, config: SDSConfig, device: torch.device | str = "cuda"
    ) -> StableDiffusionGuidance:
        """Load from a Hub id (cache first; UserError with how-to when unavailable) or a folder."""
        device = torch.device(device)
        dtype = torch.float16 if config.fp16 and device.type == "cuda" else torch.float32
        folder = resolve_sd_folder(config.model_id, config.revision, config.variant)
        components = load_components(folder, dtype, device, config.variant)
        hidden = components.text_encoder.config.hidden_size
        if components.unet.config.cross_attention_dim != hidden:
            raise ValueError(
                f"{config.model_id}: UNet cross_attention_dim "
                f"{components.unet.config.cross_attention_dim} != text encoder width {hidden}"
            )

        def reload() -> Any:
            return load_text_encoder(folder, dtype, device, config.variant)

        return cls(config, components, device, text_encoder_loader=reload)

    # ---- text -------------------------------------------------------------------------------

    @torch.no_grad()
    def _encode_text(self, texts: list[str], chunk: int = 64) -> Tensor:
        """texts -> last hidden states [N, 77, D] (what SD 1.x/2.x pipelines condition on)."""
        enc = self.text_encoder
        out = []
        for i in range(0, len(texts), chunk):
            tok = self.tokenizer(
                texts[i : i + chunk],
                padding="max_length",
                truncation=True,
                max_length=self.tokenizer.model_max_length,
                return_tensors="pt",
            )
            ids = tok.input_ids.to(self.device)
            use_mask = getattr(enc.config, "use_attention_mask", False)
            mask = tok.attention_mask.to(self.device) if use_mask else None
            out.append(enc(ids, attention_mask=mask)[0].to(self.dtype))
        return torch.cat(out)

    def prepare_prompts(self, prompts: list[str]) -> None:
        """Cache embeddings of every prompt (all view variants) and the negative prompt, then
        free the text encoder; it is loaded again only if this is called a second time."""
        if not prompts:
            raise ValueError("prepare_prompts needs at least one prompt")
        if self.text_encoder is None:
            if self._text_encoder_loader is None:
                raise RuntimeError("text encoder was freed and no loader is known")
            self.text_encoder = self._text_encoder_loader()
        variants = [view_prompts(p) if self.config.view_dependent else [p] for p in prompts]
        per_prompt = len(variants[0])
        emb = self._encode_text([v for vs in variants for v in vs])  # [P * V, 77, D]
        self._cond = emb.reshape(len(prompts), per_prompt, *emb.shape[1:])
        self._uncond = self._encode_text([self.config.negative_prompt])  # [1, 77, D]
        self.prompts = list(prompts)
        self.text_encoder = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def views(self, polar_deg: Tensor, azimuth_deg: Tensor) -> Tensor:
        """Camera angles [B] -> view index [B] into VIEWS (all 0 when not view dependent)."""
        if not self.config.view_dependent:
            return torch.zeros(torch.as_tensor(polar_deg).shape, dtype=torch.long)
        return view_index(
            polar_deg, azimuth_deg, self.config.overhead_deg, self.config.front_half_width_deg
        )

    def text_embeddings(
        self, prompt_ids: Tensor, polar_deg: Tensor, azimuth_deg: Tensor
    ) -> tuple[Tensor, Tensor]:
        """-> conditional embeddings [B, 77, D] for each prompt's view, and the view index [B]."""
        if self._cond is None:
            raise RuntimeError("call prepare_prompts(prompts) before computing SDS losses")
        view = self.views(polar_deg.detach().cpu(), azimuth_deg.detach().cpu())  # [B]
        ids = prompt_ids.detach().cpu().long()
        if ids.numel() and (ids.min() < 0 or ids.max() >= len(self.prompts)):
            raise IndexError(f"prompt_ids out of range for {len(self.prompts)} prepared prompts")
        return self._cond[ids.to(self.device), view.to(self.device)], view

    # ---- diffusion --------------------------------------------------------------------------

    def encode_images(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """images [B, H, W, 3] in [0, 1] -> scaled latents [B, 4, S/8, S/8] fp32, differentiable."""
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be [B, H, W, 3], got {tuple(images.shape)}")
        x = images.permute(0, 3, 1, 2).float()  # [B, 3, H, W]
        size = self.config.latent_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        dist = self.vae.encode((x * 2.0 - 1.0).to(self.dtype)).latent_dist
        eps = self._randn(dist.mean.shape, generator)
        return (dist.mean.float() + dist.std.float() * eps) * self.scaling_factor

    def _randn(self, shape: torch.Size, generator: torch.Generator | None) -> Tensor:
        dev = generator.device if generator is not None else self.device
        return torch.randn(shape, generator=generator, device=dev).to(self.device)

    def sample_t(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """t ~ U{min_step..max_step} per sample [B] (long)."""
        dev = generator.device if generator is not None else self.device
        t = torch.randint(
            self.min_step, self.max_step + 1, (batch,), generator=generator, device=dev
        )
        return t.to(self.device)

    @torch.no_grad()
    def predict_noise(self, noisy: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        """Classifier-free-guided eps [B, 4, h, w] fp32 for noisy latents [B, 4, h, w] fp32."""
        b = noisy.shape[0]
        latent_in = torch.cat([noisy, noisy]).to(self.dtype)  # [2B, 4, h, w]
        emb = torch.cat([self._uncond.expand(b, -1, -1), cond])  # [2B, 77, D]
        out = self.unet(latent_in, torch.cat([t, t]), encoder_hidden_states=emb).sample.float()
        if self.prediction_type == "v_prediction":  # eps = sqrt(ab) v + sqrt(1 - ab) x_t
            ab = self.alphas_cumprod[torch.cat([t, t])].view(-1, 1, 1, 1)
            out = ab.sqrt() * out + (1.0 - ab).sqrt() * torch.cat([noisy, noisy])
        eps_uncond, eps_cond = out.chunk(2)
        return eps_uncond + self.config.guidance_scale * (eps_cond - eps_uncond)

    def step(
        self,
        images: Tensor,
        prompt_ids: Tensor,
        polar_deg: Tensor,
        azimuth_deg: Tensor,
        *,
        t: Tensor | int | None = None,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> SDSOutput:
        """SDS on renders images [B, H, W, 3]; t ([B] or scalar) and noise for reproducibility."""
        b = images.shape[0]
        cond, view = self.text_embeddings(prompt_ids, polar_deg, azimuth_deg)  # [B, 77, D]
        latents = self.encode_images(images, generator)  # [B, 4, h, w]
        if t is None:
            t = self.sample_t(b, generator)
        t = torch.as_tensor(t, device=self.device).long().expand(b).contiguous()  # [B]
        if noise is None:
            noise = self._randn(latents.shape, generator)
        noise = noise.to(self.device, torch.float32)
        if noise.shape != latents.shape:
            raise ValueError(f"noise {tuple(noise.shape)} != latents {tuple(latents.shape)}")
        noisy = self.scheduler.add_noise(latents.detach(), noise, t)  # [B, 4, h, w] fp32
        eps_pred = self.predict_noise(noisy, t, cond)
        w = (1.0 - self.alphas_cumprod[t]).view(b, 1, 1, 1)  # [B, 1, 1, 1]
        grad = torch.nan_to_num(w * (eps_pred - noise))  # fp16 overflow must not poison the field
        loss = _InjectGrad.apply(latents, grad)
        return SDSOutput(loss, latents, grad, t, noise, view)

    def loss(
        self,
        images: Tensor,
        prompt_ids: Tensor,
        polar_deg: Tensor,
        azimuth_deg: Tensor,
        *,
        t: Tensor | int | None = None,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Scalar whose backward injects w(t) (eps_pred - eps) into the latents of `images`."""
        return self.step(
            images, prompt_ids, polar_deg, azimuth_deg, t=t, noise=noise, generator=generator
        ).loss


__all__ = ["DEFAULT_SD_MODEL", "VIEWS", "SDSConfig", "SDSOutput", "StableDiffusionGuidance"]
