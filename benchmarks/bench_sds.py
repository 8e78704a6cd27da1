"""Benchmark SDS steps: render -> VAE encode -> UNet with CFG -> injected gradient -> Adam.

Measures steps/s and peak GPU memory (torch.cuda.max_memory_allocated over the timed steps,
weights included) for a learnable 64x64 "render" [B, 3, 64, 64] at B = 1 and 4, with
  tiny  the random tiny components of tests/guidance/tiny_sd.py
  sd15  random-weight components with the real SD-1.5 configs (UNet 860M, VAE 84M,
        CLIP ViT-L/14 text encoder; fp16 on CUDA), built directly on the device
  pretrained  (only with --sd-model) real weights through StableDiffusionGuidance.from_pretrained

    python benchmarks/bench_sds.py --out bench_sds.json               # GPU: tiny + sd15
    python benchmarks/bench_sds.py --device cpu --tiny --steps 2      # CPU smoke run

Prints one markdown table row per (config, batch) and writes all rows as JSON to --out.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hyperfields_cli.guidance.sd_weights import SDComponents  # noqa: E402
from hyperfields_cli.guidance.sds import SDSConfig, StableDiffusionGuidance  # noqa: E402

PROMPTS = ["a yarn pot", "a gold bowl", "a wood chair", "a gold blender"]
HEADER = (
    "| config | B | render | latent | dtype | device | steps/s | ms/step | peak MiB "
    "| weights MiB |\n|---|---|---|---|---|---|---|---|---|---|"
)


def _tiny_sd_module() -> Any:
    """tests/guidance/tiny_sd.py, loaded by path (no dependence on a `tests` package)."""
    path = ROOT / "tests" / "guidance" / "tiny_sd.py"
    spec = importlib.util.spec_from_file_location("hyperfields_bench_tiny_sd", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scheduler() -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"
    )


def sd15_modules() -> dict[str, torch.nn.Module]:
    """Random UNet / VAE / text encoder with the Stable Diffusion 1.5 architecture."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=768,
        attention_head_dim=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=2,
        sample_size=512,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512),
        norm_num_groups=32,
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            projection_dim=768,
        )
    )
    return {"unet": unet, "vae": vae, "text_encoder": text}


def build_guidance(
    name: str, cfg: SDSConfig, device: torch.device, tok_dir: Path
) -> StableDiffusionGuidance:
    """Random-weight guidance for `name` in {tiny, sd15}, or real weights for `pretrained`."""
    if name == "pretrained":
        return StableDiffusionGuidance.from_pretrained(cfg, device)
    tiny_sd = _tiny_sd_module()
    tokenizer = tiny_sd.make_clip_tokenizer(tok_dir)
    dtype = torch.float16 if cfg.fp16 and device.type == "cuda" else torch.float32
    import diffusers

    diffusers.utils.logging.set_verbosity_error()  # .to(fp16) on a fresh model warns needlessly
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the device: the SD-sized UNet is slow on CPU
        mods = tiny_sd.tiny_components(len(tokenizer)) if name == "tiny" else sd15_modules()
    mods = {
        k: m.to(device=device, dtype=dtype).eval().requires_grad_(False) for k, m in mods.items()
    }
    comps = SDComponents(mods["unet"], mods["vae"], _scheduler(), tokenizer, mods["text_encoder"])
    return StableDiffusionGuidance(cfg, comps, device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_batch(
    g: StableDiffusionGuidance,
    batch: int,
    steps: int,
    warmup: int,
    device: torch.device,
    seed: int = 0,
) -> dict[str, Any]:
    """Time `steps` SDS + Adam steps on a learnable render [B, 3, R, R] after `warmup` steps."""
    r = g.config.render_size
    gen = torch.Generator(device=device).manual_seed(seed)
    cpu_gen = torch.Generator().manual_seed(seed)
    raw = torch.zeros(batch, 3, r, r, device=device, requires_grad=True)  # sigmoid -> [0, 1]
    opt = torch.optim.Adam([raw], lr=1e-2)
    ids = torch.arange(batch) % len(g.prompts)

    def step() -> None:
        images = torch.sigmoid(raw).permute(0, 2, 3, 1)  # [B, R, R, 3], the renderer's layout
        polar = 100.0 * torch.rand(batch, generator=cpu_gen)  # the paper's orbit ranges
        azimuth = 360.0 * torch.rand(batch, generator=cpu_gen) - 180.0
        loss = g.loss(images, ids, polar, azimuth, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    elapsed = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {
        "steps_per_s": steps / elapsed,
        "ms_per_step": 1000.0 * elapsed / steps,
        "peak_mem_mib": peak,
        "grad_finite": bool(raw.grad is not None and torch.isfinite(raw.grad).all()),
    }


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def row_markdown(r: dict[str, Any]) -> str:
    if "error" in r:
        return (
            f"| {r['config']} | {r['batch']} | {r['render']} | {r['latent']} | {r['dtype']} "
            f"| {r['device']} | {r['error']} | | | |"
        )
    return (
        f"| {r['config']} | {r['batch']} | {r['render']} | {r['latent']} | {r['dtype']} "
        f"| {r['device']} | {r['steps_per_s']:.2f} | {r['ms_per_step']:.1f} "
        f"| {_fmt(r['peak_mem_mib'], '.0f')} | {_fmt(r['weights_mib'], '.0f')} |"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="only the tiny components")
    p.add_argument("--sd-model", default=None, help="also benchmark these real weights")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=None, help="untimed steps (5 on CUDA, 1 on CPU)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    p.add_argument("--render-size", type=int, default=64)
    p.add_argument("--latent-size", type=int, default=512)
    p.add_argument("--fp32", action="store_true", help="fp32 on CUDA too (default fp16)")
    p.add_argument("--out", type=Path, default=Path("bench_sds.json"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.warmup is None:
        args.warmup = 5 if device.type == "cuda" else 1
    names = ["tiny"] + ([] if args.tiny else ["sd15"]) + (["pretrained"] if args.sd_model else [])
    rows: list[dict[str, Any]] = []
    print(HEADER, flush=True)
    for name in names:
        cfg = SDSConfig(
            render_size=args.render_size,
            latent_size=args.latent_size,
            fp16=not args.fp32,
            **({"model_id": args.sd_model} if args.sd_model else {}),
        )
        with tempfile.TemporaryDirectory() as tok_dir:
            g = build_guidance(name, cfg, device, Path(tok_dir))
            g.prepare_prompts(PROMPTS)  # frees the text encoder, as training does
            weights = torch.cuda.memory_allocated(device) / 2**20 if device.type == "cuda" else None
            for batch in args.batch_sizes:
                base = {
                    "config": name,
                    "batch": batch,
                    "render": args.render_size,
                    "latent": args.latent_size,
                    "dtype": str(g.dtype).removeprefix("torch."),
                    "device": torch.cuda.get_device_name(device)
                    if device.type == "cuda"
                    else "cpu",
                    "steps": args.steps,
                    "warmup": args.warmup,
                    "weights_mib": weights,
                }
                try:
                    row = {**base, **bench_batch(g, batch, args.steps, args.warmup, device)}
                except torch.cuda.OutOfMemoryError:
                    row = {**base, "error": "OOM"}
                    gc.collect()
                    torch.cuda.empty_cache()
                rows.append(row)
                print(row_markdown(row), flush=True)
        del g
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    meta = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with contextlib.suppress(ImportError):
        import diffusers

        meta["diffusers"] = diffusers.__version__
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
