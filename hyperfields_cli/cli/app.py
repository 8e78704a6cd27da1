"""The Typer app and the console every command prints through."""

from __future__ import annotations

import typer
from rich.console import Console

from hyperfields_cli import __version__

console = Console()
err_console = Console(stderr=True)


class _State:
    debug: bool = False


state = _State()

app = typer.Typer(
    name="hyperfields",
    help=(
        "Text -> 3D neural radiance field in one forward pass (HyperFields, ICML 2024).\n\n"
        'Example: hyperfields generate "yarn pot"'
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        console.print(f"hyperfields {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    state.debug = debug
