"""Rendering shared by the commands: stderr console, progress bars, statuses, following."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cli.console import err_console
from cli.errors import ExitCode, FtkError
from cli.targets.base import Execution, ExecutionStatus, LogNotice, Target
from contract.phases import parse_phase

_console: Console | None = None


def console() -> Console:
    global _console
    if _console is None or _console.file is not sys.stderr:
        _console = err_console()
    return _console


def info(text: str) -> None:
    console().print(text, highlight=False)


def ok(text: str) -> None:
    info(f"[green]✓[/] {text}")


def warn(text: str) -> None:
    info(f"[yellow]![/] {escape(text)}")


def out(text: str) -> None:
    """Data for scripts: stdout."""
    click.echo(text)


def log_line(line: str, *, to_stderr: bool = False) -> None:
    """One line of a log stream: the execution's output to stdout, ftk's `LogNotice`s to stderr."""
    if isinstance(line, LogNotice):
        info(f"[dim]{escape(line)}[/]")
        return
    click.echo(line, err=to_stderr)
    phase = parse_phase(line)
    if phase is not None:
        info(f"[bold cyan]phase: {phase.label}[/]")


class BytesProgress:
    """A transfer bar on stderr (hidden when stderr is not a terminal)."""

    def __init__(self, label: str):
        self.label = label
        self._progress: Progress | None = None
        self._task: Any = None

    def start(self, total_files: int, total_bytes: int) -> None:
        if total_files == 0:
            return
        self._progress = Progress(
            TextColumn("{task.description} {task.fields[files]}/{task.fields[total_files]}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console(),
            transient=True,
            disable=not console().is_terminal,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self.label, total=total_bytes, files=0, total_files=total_files
        )

    def advance(self, path: str, nbytes: int) -> None:
        if self._progress is not None:
            done = self._progress.tasks[0].fields["files"] + 1
            self._progress.update(self._task, advance=nbytes, files=done)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> BytesProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_STATUS_STYLE = {
    ExecutionStatus.QUEUED: "cyan",
    ExecutionStatus.RUNNING: "blue",
    ExecutionStatus.SUCCEEDED: "green",
    ExecutionStatus.FAILED: "red",
    ExecutionStatus.STOPPED: "yellow",
    ExecutionStatus.RESUMABLE: "yellow",
    ExecutionStatus.UNKNOWN: "dim",
}


def status_text(status: ExecutionStatus) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{d}d{h:02d}h"
    return f"{h}h{m:02d}m" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


def print_table(table: Table) -> None:
    """A Rich table as it is (tables of rows a person reads go through `cli.tables`)."""
    console().print(table)


def follow_execution(
    target: Target,
    execution: Execution,
    *,
    to_stderr: bool = False,
    tail: int | None = None,
) -> Execution:
    """Stream logs until the execution ends; Ctrl-C leaves it running and says how to reattach."""
    from cli.ops.executions import follow

    def emit(line: str) -> None:
        log_line(line, to_stderr=to_stderr)

    try:
        return follow(target, execution.name, emit, tail=tail, run_id=execution.run_id)
    except KeyboardInterrupt:
        raise FtkError(
            f"stopped following {execution.name}; it keeps running",
            hint=f"reattach with `ftk logs {execution.name} -f`; stop it with "
            f"`ftk stop {execution.name}`",
            code=ExitCode.INTERRUPTED,
        ) from None


def follow_until_done(
    target: Target, execution: Execution, *, max_restarts: int, to_stderr: bool = False
) -> Execution:
    """`follow_execution`, restarting the run while it ends resumable; returns the last one."""
    from cli.ops.until_done import follow_until_done as follow_all

    current = [execution]

    def emit(line: str) -> None:
        log_line(line, to_stderr=to_stderr)

    def restarted(started: Any) -> None:
        current[0] = started.execution
        ok(f"run [bold]{started.run_id}[/] continues as [bold]{started.execution.name}[/]")

    try:
        done = follow_all(target, execution, emit, max_restarts=max_restarts, on_restart=restarted)
    except KeyboardInterrupt:
        name = current[0].name
        raise FtkError(
            f"stopped following {name}; it keeps running (and will not be restarted)",
            hint=f"reattach with `ftk logs {name} -f`; stop it with `ftk stop {name}`",
            code=ExitCode.INTERRUPTED,
        ) from None
    return done.final


def finish(execution: Execution) -> None:
    """Report how an execution ended and exit with its outcome (0 succeeded, 1 otherwise)."""
    run = execution.run_id or "RUN"
    if execution.status == ExecutionStatus.SUCCEEDED:
        ok(f"{execution.name} succeeded; fetch it with `ftk download {run}`")
        return
    if execution.status == ExecutionStatus.RESUMABLE:
        raise FtkError(
            f"{execution.name} ended on its time budget with a checkpoint",
            hint=f"continue the run with `ftk resume {run}`",
        )
    if execution.status == ExecutionStatus.STOPPED:
        raise FtkError(
            f"{execution.name} was stopped", hint=f"continue the run with `ftk resume {run}`"
        )
    code = f" (exit code {execution.exit_code})" if execution.exit_code is not None else ""
    raise FtkError(
        f"{execution.name} {execution.status}{code}", hint=f"see `ftk logs {execution.name}`"
    )
