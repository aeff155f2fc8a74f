"""CLI test fixtures: a small project, a FakeTarget, a LocalTarget with stand-in commands."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.errors import NotFoundError
from cli.main import cli
from cli.targets.local import LocalTarget, ServeSpec, default_serve_command
from testkit.fakes.targets import FakeTarget

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """model:
  name: model
data:
  train_file: data/train.jsonl
train:
  max_steps: 2
"""


def write_project(root: Path) -> Path:
    """A workspace with a valid training config (a local model folder and a chat dataset)."""
    (root / "model").mkdir(parents=True)
    (root / "model" / "config.json").write_text("{}")
    (root / "model" / "model.safetensors").write_bytes(b"")  # validation wants weights present
    (root / "data").mkdir()
    rows = [
        f'{{"messages": [{{"role": "user", "content": "q{i}"}}, '
        f'{{"role": "assistant", "content": "a{i}"}}]}}'
        for i in range(4)
    ]
    (root / "data" / "train.jsonl").write_text("\n".join(rows) + "\n")
    (root / "finetuning").mkdir()
    (root / "finetuning" / "tiny.yaml").write_text(CONFIG)
    (root / "training").mkdir()
    (root / "training" / "__init__.py").write_text("")
    return root


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write each relative path's text under `root` (folders made as needed); returns `root`."""
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "proj")


@pytest.fixture
def fake_target() -> FakeTarget:
    return FakeTarget()


def run_module(module: str) -> list[str]:
    """`python -m MODULE` from any working directory (the target starts children in the share)."""
    code = f"import runpy, sys; sys.path.insert(0, {str(ROOT)!r}); "
    code += f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    return [sys.executable, "-c", code]


def train_command(mode: str):
    def build(config: Path, workspace: Path, run_dir: Path) -> list[str]:
        return [*run_module("testkit.fakes.train"), mode, "--config", str(config)]

    return build


def fake_serve_command(spec: ServeSpec) -> list[str]:
    argv = default_serve_command(spec)
    return [*run_module("testkit.fakes.openai_server"), *argv[3:]]


@pytest.fixture
def local_target(project: Path, tmp_path: Path):
    """A LocalTarget training with `testkit.fakes.train succeed`, serving with the echo server."""
    target = LocalTarget(
        project,
        train_command=train_command("succeed"),
        serve_command=fake_serve_command,
        model_cache=tmp_path / "cache",
        ready_timeout=30,
    )
    yield target
    _cleanup(target)


def _cleanup(target: LocalTarget) -> None:
    """Stop whatever the test left running (servers, waiting trainings), then reap them."""
    stop_all(target, timeout=20)


def stop_all(target: LocalTarget, timeout: float) -> None:
    """Through the protocol only: stop the endpoint and every active execution, wait until they
    have ended, and let the target reap its children."""
    with contextlib.suppress(NotFoundError):
        target.stop_endpoint()
    for e in target.executions():
        if not e.status.finished:
            target.stop_execution(e.name)
    deadline = time.monotonic() + timeout
    while any(not e.status.finished for e in target.executions()):
        assert time.monotonic() < deadline, "executions still running after stop"
        time.sleep(0.2)
    target.close()
    target.close()  # idempotent


@pytest.fixture
def invoke():
    """Run `ftk ARGS` in-process against a given target; returns click's Result."""

    def run(target, args: list[str], project_dir: Path | None = None, input: str | None = None):
        app = App.with_target(target, project_dir or Path.cwd())
        return CliRunner().invoke(cli, args, obj=app, input=input, catch_exceptions=False)

    return run


@pytest.fixture
def doctor_arm(fake_azure, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The doctor's ARM routes on `fake_azure`, the SDK clients signed in to it, no backoff."""
    from cli.targets.azure import clients as azure_clients
    from testkit.fakes.azure_doctor import install

    monkeypatch.setattr(azure_clients, "default_credential", lambda: fake_azure.credential)
    return install(fake_azure, retry_after="0")
