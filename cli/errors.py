"""One error type for the CLI, with exit codes CI can trust and a hint that names the fix.

The codes are `contract.exit_codes.ExitCode`, which the trainer, the server and bootstrap use too.

Plain functions raise `FtkError` (or a subclass) and never print or exit; Click calls `show()`.
"""

from __future__ import annotations

import os
from typing import IO, Any, ClassVar

import click

from contract.exit_codes import ExitCode


class FtkError(click.ClickException):
    """A user-facing error: one line, an optional hint, a fixed exit code."""

    exit_code: ClassVar[int] = ExitCode.FAILED  # as click declares it; subclasses set their own

    def __init__(self, message: str, *, hint: str | None = None, code: ExitCode | None = None):
        super().__init__(message)
        self.hint = hint
        if code is not None:  # this one error's code (click reads `exit_code` off the instance)
            self.exit_code = int(code)  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.message,
            "hint": self.hint,
            "exit_code": self.exit_code,
            "kind": type(self).__name__,
        }

    def show(self, file: IO[Any] | None = None) -> None:
        """The error on stderr; control sequences from names or input in it are shown escaped."""
        from cli.console import err_console
        from cli.safe_text import safe_markup

        console = err_console(file)
        message = safe_markup(self.message, keep="\n")
        console.print(f"[bold red]✗[/] {message}", highlight=False)
        if self.hint:
            hint = safe_markup(self.hint, keep="\n")
            console.print(f"  [dim]hint:[/] {hint}", highlight=False)


class UsageError(FtkError):
    exit_code = ExitCode.USAGE


class NotFoundError(FtkError):
    exit_code = ExitCode.NOT_FOUND


class AuthError(FtkError):
    exit_code = ExitCode.AUTH


class UnavailableError(FtkError):
    exit_code = ExitCode.UNAVAILABLE


def debug_enabled() -> bool:
    return os.environ.get("FTK_DEBUG", "") not in ("", "0", "false")
