"""`hyperfields packs`: list, show and render prompt packs and the procedural world.

Parsing and printing only; the world lives in hyperfields_cli/synthetic/.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from hyperfields_cli.cli.app import app, console, err_console
from hyperfields_cli.errors import UsageError

packs_app = typer.Typer(
    help=(
        "Prompt packs and the built-in procedural world (offline ground truth).\n\n"
        "Example: hyperfields packs show bowls"
    ),
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode="rich",
)
app.add_typer(packs_app, name="packs")


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(
            f"device {device!r} requested but CUDA is not available", hint="use --device cpu"
        )
    return device


@packs_app.callback()
def _packs(ctx: typer.Context) -> None:
    """Prompt packs and the built-in procedural world (offline ground truth).

    Example: hyperfields packs show bowls
    """
    if ctx.invoked_subcommand is None:
        list_cmd()


@packs_app.command("list")
def list_cmd() -> None:
    """List the built-in prompt packs (name, split, number of prompts).

    Example: hyperfields packs list
    """
    from hyperfields_cli.synthetic.packs import available_packs, builtin_dir, load_pack

    names = available_packs()
    if not names:
        console.print(f"No prompt packs found in {builtin_dir()}.", highlight=False)
        return
    order = {"train": 0, "zero_shot": 1, "ood": 2, "custom": 3}
    packs = sorted((load_pack(n) for n in names), key=lambda p: (order[p.split], p.name))
    table = Table(title="Prompt packs", caption="Your own: --prompt-pack path/to/pack.toml")
    for col in ("name", "split", "prompts", "description"):
        table.add_column(col, justify="right" if col == "prompts" else "left")
    for p in packs:
        table.add_row(p.name, p.split, str(len(p.prompts)), escape(p.description))
    console.print(table)


@packs_app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="Built-in pack name or path to a pack .toml file."),
) -> None:
    """List a pack's prompts and the procedural scene each one names.

    Example: hyperfields packs show zero_shot
    """
    from hyperfields_cli.synthetic.packs import load_pack

    pack = load_pack(name)
    table = Table(
        title=f"{pack.name} ({pack.split}, {len(pack.prompts)} prompts)",
        caption=escape(pack.description) or None,
    )
    for col in ("#", "prompt", "shape", "attribute", "scene split"):
        table.add_column(col, justify="right" if col == "#" else "left")
    for i, e in enumerate(pack.prompts, 1):
        s = e.scene
        table.add_row(
            str(i),
            escape(e.text),
            s.shape if s else "-",
            s.attribute if s else "-",
            s.split if s else "-",
        )
    console.print(table)


@packs_app.command("render")
def render_cmd(
    name: str = typer.Argument(..., help="Built-in pack name or path to a pack .toml file."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    size: int = typer.Option(128, "--size", min=8, max=2048, help="Image size in pixels."),
    views: int = typer.Option(
        4, "--views", min=1, help="Turntable views (or training views with --dataset)."
    ),
    dataset: bool = typer.Option(
        False,
        "--dataset",
        help="Export each scene as a NeRF-synthetic "
        "dataset (transforms_{train,val,test}.json + RGBA PNGs).",
    ),
    test_views: int | None = typer.Option(
        None, "--test-views", min=1, help="Test views with --dataset (default views/4)."
    ),
    prompt: list[str] | None = typer.Option(
        None, "--prompt", "-p", help="Only prompts containing this text (repeatable)."
    ),
    samples: int = typer.Option(160, "--samples", min=16, help="Samples per ray."),
    seed: int = typer.Option(0, "--seed", help="Seed for dataset camera poses."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
) -> None:
    """Render ground-truth views of every scene in a pack (deterministic).

    Writes OUT/<attribute>_<shape>.png turntable strips, or NeRF-synthetic folders with --dataset.

    Example: hyperfields packs render bowls --out renders/ --views 4
    Example: hyperfields packs render zero_shot -p yarn --out data/ --dataset --views 100 --size 200
    """
    import imageio.v3 as iio

    from hyperfields_cli.synthetic.dataset import export_nerf_dataset
    from hyperfields_cli.synthetic.packs import load_pack
    from hyperfields_cli.synthetic.preview import turntable_strip

    pack = load_pack(name)
    dev = _device(device)
    entries = [
        e for e in pack.prompts if not prompt or any(q.lower() in e.text.lower() for q in prompt)
    ]
    todo = {}
    for e in entries:
        scene = e.scene_or_match()
        if scene is None:
            err_console.print(f"[yellow]skip:[/yellow] {escape(e.text)!s} (no procedural scene)")
        else:
            todo.setdefault(scene, e.text)
    if not todo:
        raise UsageError(
            f"no prompt of pack {pack.name!r} names a procedural scene to render",
            hint="check --prompt, or give prompts shape/attribute in the pack",
        )
    out.mkdir(parents=True, exist_ok=True)
    table = Table(title=f"{pack.name}: {len(todo)} scenes -> {out}")
    table.add_column("prompt")
    table.add_column("written")
    with err_console.status("rendering") as status:
        for i, (scene, text) in enumerate(todo.items(), 1):
            status.update(f"rendering {i}/{len(todo)}: {text}")
            if dataset:
                path = export_nerf_dataset(
                    scene,
                    out / scene.slug,
                    views=views,
                    size=size,
                    seed=seed,
                    test_views=test_views,
                    num_samples=samples,
                    device=dev,
                    prompt=text,
                )
            else:
                path = out / f"{scene.slug}.png"
                iio.imwrite(path, turntable_strip(scene, views, size, samples, dev))
            table.add_row(escape(text), str(path))
    console.print(table)


@packs_app.command("sheet")
def sheet_cmd(
    out: Path = typer.Option(Path("docs/world.png"), "--out", "-o", help="PNG to write."),
    size: int = typer.Option(128, "--size", min=32, max=1024, help="Tile size in pixels."),
    samples: int = typer.Option(160, "--samples", min=16, help="Samples per ray."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
) -> None:
    """Render a labelled contact sheet of every shape and every attribute.

    Example: hyperfields packs sheet --out docs/world.png
    """
    from hyperfields_cli.synthetic.preview import contact_sheet

    with err_console.status("rendering the contact sheet"):
        path = contact_sheet(out, size=size, num_samples=samples, device=_device(device))
    console.print(f"Wrote {path}", highlight=False)
