"""`ftk run/resume --until-done`: a run ending resumable is restarted by itself (FakeTarget)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cli.targets.base import ExecutionStatus
from testkit.fakes.targets import FakeTarget

R, S, F, X = (
    ExecutionStatus.RESUMABLE,
    ExecutionStatus.SUCCEEDED,
    ExecutionStatus.FAILED,
    ExecutionStatus.STOPPED,
)


class ScriptedTarget(FakeTarget):
    """Each followed execution ends as the next status of `outcomes`, printing its own steps."""

    def __init__(self, outcomes: list[ExecutionStatus]):
        super().__init__()
        self.outcomes = list(outcomes)

    def stream_logs(self, name: str, *, follow: bool, tail: int | None = None) -> Iterator[str]:
        self.final_status = self.outcomes.pop(0)
        n = len(self.started)
        self.logs[name] = [f"step {n}/3"]
        yield from super().stream_logs(name, follow=follow, tail=tail)


def _target(outcomes: list[ExecutionStatus], *, existing: bool = True) -> ScriptedTarget:
    target = ScriptedTarget(outcomes)
    if existing:
        target.share().write_bytes("runs/r1/config.yaml", b"model: {name: m}\n")
    return target


def test_until_done_restarts_resumable_executions_until_success(project: Path, invoke):
    target = _target([R, R, S], existing=False)
    args = ["run", "finetuning/tiny.yaml", "--run-id", "r1", "--no-sync", "--until-done"]
    result = invoke(target, args, project)
    assert result.exit_code == 0, result.output
    assert [run for run, _ in target.started] == ["r1", "r1", "r1"]
    lines = result.stdout.splitlines()
    assert lines.count("step 1/3") == lines.count("step 2/3") == lines.count("step 3/3") == 1
    assert "restarting run r1 (2/10)" in result.stderr


def test_max_restarts_bounds_the_restarts(project: Path, invoke):
    target = _target([R, R, R, S])
    result = invoke(target, ["resume", "r1", "--until-done", "--max-restarts", "1"])
    assert result.exit_code == 1
    assert len(target.started) == 2
    assert "ftk resume r1" in result.stderr


def test_failed_or_stopped_executions_are_not_restarted(project: Path, invoke):
    for outcome in (F, X):
        target = _target([R, outcome, S])
        result = invoke(target, ["resume", "r1", "--until-done"])
        assert result.exit_code == 1, outcome
        assert len(target.started) == 2, outcome


def test_without_until_done_a_resumable_ending_stops_there(project: Path, invoke):
    target = _target([R, S])
    result = invoke(target, ["resume", "r1", "-f"])
    assert result.exit_code == 1 and len(target.started) == 1
