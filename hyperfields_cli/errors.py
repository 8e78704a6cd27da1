"""User-facing errors: one clear line and an exit code, never a traceback (unless --debug)."""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error the user can fix; `hint` says how. Printed as one red line by the CLI."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(UserError):
    """Bad input on the command line: a malformed reference, an empty prompt, an unknown pack."""

    exit_code = EXIT_USAGE


class NotFoundError(UserError):
    """A named thing (artifact, pack, file) does not exist."""

    exit_code = EXIT_FAILURE


class IntegrityError(UserError):
    """An artifact on disk does not match its manifest (hash mismatch, missing file)."""

    exit_code = EXIT_FAILURE
