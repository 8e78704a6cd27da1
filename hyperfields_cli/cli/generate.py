"""`generate`: prompts -> NeRF -> turntable video, depth, mesh."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hyperfields_cli.cli.app import app, console


@app.command()
def generate(
    prompts: list[str] = typer.Argument(..., help="one or more text prompts"),
    student: str = typer.Option(None, help="student NAME@VERSION or folder (default: built-in)"),
    out: Path = typer.Option(Path("outputs"), help="output folder"),
    res: int = typer.Option(None, help="image size (default 512 on GPU, 128 on CPU)"),
    frames: int = typer.Option(None, help="turntable frames (default 60 GPU, 20 CPU)"),
    mesh: str = typer.Option("glb", help="glb | ply | obj | none"),
    mesh_res: int = typer.Option(None, help="marching-cubes grid (default 256 GPU, 96 CPU)"),
    video: str = typer.Option("mp4", help="mp4 | gif | none"),
    save_frames: bool = typer.Option(False, help="also write every frame as PNG"),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N"),
    seed: int = typer.Option(0),
) -> None:
    """Turn text into a NeRF in one forward pass and write a turntable, depth video and mesh.

    Example: hyperfields generate "yarn pot" --out outputs
    """
    from pydantic import ValidationError

    from hyperfields_cli.config import GenerateConfig
    from hyperfields_cli.errors import UsageError
    from hyperfields_cli.pipelines.generate import generate as run_generate

    try:
        cfg = GenerateConfig(
            prompts=prompts,
            student=student,
            out=out,
            res=res,
            frames=frames,
            mesh=mesh,
            video=video,
            save_frames=save_frames,
            device=device,
            seed=seed,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UsageError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from exc
    with console.status("generating..."):
        result = run_generate(cfg)
    console.print(f"student [bold]{result.student}[/bold]")
    for prompt, files in result.files.items():
        console.print(f"[green]{prompt}[/green]")
        for f in files:
            console.print(f"  {f}")
    table = Table("stage", "seconds", title="timings")
    for stage, sec in result.timings.items():
        table.add_row(stage, f"{sec:.2f}")
    console.print(table)
