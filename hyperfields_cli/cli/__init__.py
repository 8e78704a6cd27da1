"""Command-line entry point: parse, call the core, print with rich. No logic lives here.

Each command group lives in its own module under `cli/` and registers itself on `app`
when imported; `main()` turns user errors into one red line and an exit code.
"""

from __future__ import annotations

import sys

import click

from hyperfields_cli.cli import finetune as _finetune  # noqa: E402,F401
from hyperfields_cli.cli import generate as _generate  # noqa: E402,F401
from hyperfields_cli.cli import packs as _packs  # noqa: E402,F401

# Importing a command module registers its commands on `app`.
from hyperfields_cli.cli import store as _store  # noqa: E402,F401  (list, show, pull, push)
from hyperfields_cli.cli import train as _train  # noqa: E402,F401  (teach, distill)
from hyperfields_cli.cli.app import app, err_console, state
from hyperfields_cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, UserError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map errors to exit codes (1 failure, 2 usage, 130 interrupted)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        code = app(args=args, prog_name="hyperfields", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("[yellow]Interrupted.[/yellow] Partial work, if any, was saved.")
        code = EXIT_INTERRUPTED
    except UserError as exc:
        if state.debug or "--debug" in args:
            raise
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        if exc.hint:
            err_console.print(f"[dim]hint:[/dim] {exc.hint}", highlight=False, soft_wrap=True)
        code = exc.exit_code
    except Exception as exc:  # an unexpected failure: still one line unless --debug
        if state.debug or "--debug" in args:
            raise
        err_console.print(
            f"[red]error:[/red] {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        code = EXIT_FAILURE
    sys.exit(code if isinstance(code, int) else 0)
