"""The object every command receives: global options, and the target resolved on first use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.errors import UsageError
from cli.targets.base import Target


@dataclass
class App:
    project_dir: Path
    local: bool = False
    infra_files: tuple[Path, ...] = ()
    stack: str | None = None
    verbose: int = 0
    debug: bool = False
    as_json: bool = False  # set by `json_option`: errors are then also written to stdout as JSON
    _target: Target | None = field(default=None, repr=False)

    @classmethod
    def with_target(cls, target: Target, project_dir: Path) -> App:
        """An App whose target is already chosen (tests pass one as `obj=` to CliRunner)."""
        return cls(project_dir=project_dir, _target=target)

    def target(self) -> Target:
        if self._target is None:
            self._target = self._resolve()
            # A target this App built is released when the command ends (clients, children);
            # one given by a caller (tests) stays the caller's.
            ctx = click.get_current_context(silent=True)
            if ctx is not None:
                ctx.find_root().call_on_close(self._target.close)
        return self._target

    def _resolve(self) -> Target:
        if self.local and (self.infra_files or self.stack):
            raise UsageError("--local cannot be combined with --infra or --stack")
        if self.infra_files and self.stack:
            raise UsageError("--infra and --stack name two different targets; pick one")
        if self.local:
            from cli.targets.local import LocalTarget

            return LocalTarget(self.project_dir)
        try:
            from cli.targets.aca import AzureTarget
        except ImportError as exc:
            raise UsageError(
                f"the Azure target is not available here ({exc})",
                hint="use --local to work without Azure",
            ) from exc
        if self.infra_files:
            return AzureTarget.from_infra_files(list(self.infra_files))
        return AzureTarget.from_stack(self.project_dir, self.stack)


F = TypeVar("F", bound=Callable[..., Any])

pass_app = click.make_pass_decorator(App)


def _mark_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    app = ctx.find_object(App)
    if app is not None and value:
        app.as_json = True
    return value


def json_option(help: str = "Print one JSON object on stdout.") -> Callable[[F], F]:
    """`--json` (as `as_json`); with it, an error is also printed on stdout as a JSON object."""
    return click.option("--json", "as_json", is_flag=True, help=help, callback=_mark_json)
