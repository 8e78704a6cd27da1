"""Run the real CLI entry point in-process and read what a user would see."""

from __future__ import annotations

import pytest

from hyperfields_cli.cli import main


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`hyperfields ARGS` -> (exit code, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def one_error(err: str) -> str:
    """The error line; asserts there is no traceback and at most a hint after it."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err and lines and lines[0].startswith("error:"), err
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint:")), err
    return lines[0]
