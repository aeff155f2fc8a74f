"""One set of behavioural checks over every `Target`: the FakeTarget the command tests use, the
LocalTarget (with the stand-in trainer) and the AzureTarget against the loopback Azure fake.

A target may differ from another only where the protocol says so, and a check reads that from
`capabilities` or `secrets.stores_values`, never from `kind`. What a *platform* does on its own
(an Azure replica claiming its run request, a container printing lines) is played by each
target's `Harness`, not by the target.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.errors import ExitCode, NotFoundError, UsageError
from cli.main import cli
from cli.targets.base import (
    Execution,
    ExecutionStatus,
    GpuRoom,
    LogNotice,
    NoPlatform,
    PlatformChecks,
    Pricing,
    RemoteFile,
    SecretStore,
    Share,
    Target,
)
from cli.targets.checks import Row
from cli.targets.local import LocalTarget
from cli.targets.temps import is_temporary
from contract import outputs as keys
from contract.layout import RunLayout
from testkit.fakes.azure import FakeAzure, replica_claims, target_from_outputs
from testkit.fakes.targets import FakeTarget
from tests.cli.conftest import run_module, write_project

CONSOLE = ["step 1 loss 2.0", "step 2 loss 1.0", "done"]  # what an execution prints
SECRET_NAME = "CONFORMANCE_TOKEN"
SECRET_VALUE = "s3cret-conformance-value"


@dataclass
class Harness:
    """A target and the platform around it."""

    target: Target
    project: Path
    # The platform places a started execution (Azure: its replica claims the run request).
    place: Callable[[Execution], None] = lambda e: None
    # Makes a placed execution print CONSOLE and end (the local stand-in trainer just does).
    print_console: Callable[[Execution], None] = lambda e: None
    # Keeps an execution queued (no replica yet); None where executions never queue.
    hold_queued: Callable[[Execution], None] | None = None
    secrets_shown: list[str] = field(default_factory=list)  # secret values the target knows


def _fake_harness(tmp_path: Path) -> Iterator[Harness]:
    target = FakeTarget()

    def prints(e: Execution) -> None:
        target.logs[e.name] = list(CONSOLE)

    def queue(e: Execution) -> None:
        i = next(i for i, x in enumerate(target._executions) if x.name == e.name)
        target._executions[i] = replace(e, status=ExecutionStatus.QUEUED)

    yield Harness(target, write_project(tmp_path / "proj"), print_console=prints, hold_queued=queue)


def _local_harness(tmp_path: Path) -> Iterator[Harness]:
    def train(config: Path, workspace: Path, run_dir: Path) -> list[str]:
        mode = "wait" if config.parent.name.startswith("wait") else "succeed"
        return [*run_module("testkit.fakes.train"), mode, "--config", str(config)]

    project = write_project(tmp_path / "proj")
    target = LocalTarget(project, train_command=train, model_cache=tmp_path / "cache")
    yield Harness(target, project)
    for e in target.executions():  # through the protocol only: end what a check left running
        if not e.status.finished:
            target.stop_execution(e.name)
    _wait_until(lambda: all(e.status.finished for e in target.executions()))
    target.close()


def _azure_harness(tmp_path: Path) -> Iterator[Harness]:
    (tmp_path / "fake-azure").mkdir()
    with FakeAzure(tmp_path / "fake-azure", lifetime=120) as fake:
        target = target_from_outputs(fake.outputs(), connection=fake.connection())

        def place(e: Execution) -> None:
            assert replica_claims(fake, e.name) is not None

        def prints(e: Execution) -> None:
            fake.arm.execution(e.name).lines = list(CONSOLE)

        def queue(e: Execution) -> None:
            fake.arm.execution(e.name).queued_polls = 3

        yield Harness(
            target,
            write_project(tmp_path / "proj"),
            place=place,
            print_console=prints,
            hold_queued=queue,
            secrets_shown=[fake.outputs()[keys.ACA_APP_API_KEY], *fake.arm.job_secrets.values()],
        )
        target.close()
    assert fake.arm.spec_violations == [], "requests the Microsoft.App spec does not allow"


HARNESSES = {"fake": _fake_harness, "local": _local_harness, "azure": _azure_harness}


@pytest.fixture(params=sorted(HARNESSES))
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from HARNESSES[request.param](tmp_path)


def _wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the target never reached the expected state"
        time.sleep(0.05)


def _start(h: Harness, run_id: str) -> Execution:
    """A run whose config is on the share, started and placed by the platform."""
    h.target.share().write_bytes(RunLayout(run_id).config, b"model:\n  name: model\n")
    execution = h.target.start_execution(run_id)
    h.place(execution)
    return execution


def _invoke(h: Harness, args: list[str]):
    app = App.with_target(h.target, h.project)
    return CliRunner().invoke(cli, args, obj=app, catch_exceptions=False)


# -- the checks ---------------------------------------------------------------------------------


def test_is_a_target_whose_description_has_the_contract_keys_and_no_secret(h: Harness):
    assert isinstance(h.target, Target)
    described = h.target.describe()
    assert {keys.FILE_SHARE_NAME, keys.GPU_PROFILE} <= set(described)
    assert all(isinstance(v, str) for v in described.values())
    assert not set(described) & set(keys.SECRET_KEYS)
    for secret in h.secrets_shown:
        assert all(secret not in v for v in described.values())


def test_share_round_trip(h: Harness, tmp_path: Path):
    share = h.target.share()
    assert isinstance(share, Share) and share.parallelism > 0
    share.make_dirs("conf/a/b")
    share.make_dirs("conf/a/b")  # idempotent
    assert share.exists("conf/a/b")

    share.write_bytes("conf/a/b/one.txt", b"hello")
    assert share.read_bytes("conf/a/b/one.txt") == b"hello"
    share.write_bytes("conf/a/b/one.txt", b"replaced")
    assert share.read_bytes("conf/a/b/one.txt") == b"replaced"

    local = tmp_path / "upload.bin"
    local.write_bytes(b"\x00\x01" * 1000)
    share.upload_file(local, "conf/a/two.bin")
    listed = sorted(share.list_files("conf"), key=lambda f: f.path)
    # An upload is atomic: only the final names are listed, no temporary is left behind.
    assert listed == [RemoteFile("conf/a/b/one.txt", 8), RemoteFile("conf/a/two.bin", 2000)]
    assert not any(is_temporary(f.path.rsplit("/", 1)[-1]) for f in listed)
    assert share.sweep_temporaries("conf/a", 0) == []

    back = tmp_path / "back.bin"
    share.download_file("conf/a/two.bin", back)
    assert back.read_bytes() == local.read_bytes()

    share.delete("conf/a/two.bin")
    share.delete("conf/a/two.bin")  # deleting what is gone is fine
    assert not share.exists("conf/a/two.bin")
    with pytest.raises(NotFoundError):
        share.read_bytes("conf/a/two.bin")
    assert [f.path for f in share.list_files("conf")] == ["conf/a/b/one.txt"]


def test_started_execution_is_listed_with_its_run(h: Harness):
    first = _start(h, "conf-1")
    second = _start(h, "conf-2")
    for execution, run_id in ((first, "conf-1"), (second, "conf-2")):
        assert execution.run_id == run_id
        assert execution.status in (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
        assert h.target.get_execution(execution.name).run_id == run_id
    listed = h.target.executions()
    assert [e.name for e in listed][:2] == [second.name, first.name]  # newest first
    assert {e.name: e.run_id for e in listed} == {first.name: "conf-1", second.name: "conf-2"}
    with pytest.raises(NotFoundError):
        h.target.get_execution("no-such-execution")


def test_stop_execution_ends_it_as_stopped(h: Harness):
    execution = _start(h, "wait-1")
    h.target.stop_execution(execution.name)
    _wait_until(lambda: h.target.get_execution(execution.name).status.finished)
    assert h.target.get_execution(execution.name).status == ExecutionStatus.STOPPED


def test_logs_are_the_executions_lines_and_ftks_own_are_notices(h: Harness):
    execution = _start(h, "conf-logs")
    h.print_console(execution)
    lines = list(h.target.stream_logs(execution.name, follow=True))
    assert all(isinstance(line, str) for line in lines)
    console = [line for line in lines if not isinstance(line, LogNotice)]
    assert console[-len(CONSOLE) :] == CONSOLE
    assert h.target.get_execution(execution.name).status.finished


def test_a_queued_execution_says_so_as_a_notice(h: Harness):
    if h.hold_queued is None:
        pytest.skip("this platform starts executions at once")
    execution = _start(h, "conf-queued")
    h.hold_queued(execution)
    h.print_console(execution)
    lines = list(h.target.stream_logs(execution.name, follow=True))
    notices = [line for line in lines if isinstance(line, LogNotice)]
    assert notices and "waiting" in notices[0]
    assert [line for line in lines if not isinstance(line, LogNotice)] == CONSOLE


def test_secret_store(h: Harness, monkeypatch: pytest.MonkeyPatch):
    store = h.target.secrets
    assert isinstance(store, SecretStore)
    monkeypatch.delenv(SECRET_NAME, raising=False)
    said = store.set(SECRET_NAME, SECRET_VALUE)
    assert isinstance(said, str) and SECRET_VALUE not in said
    assert SECRET_NAME in store.names()
    if store.stores_values:
        assert SECRET_NAME not in store.unavailable()
    else:  # names only: the next execution reads the value from this environment
        assert SECRET_NAME in store.unavailable()
        monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
        assert SECRET_NAME not in store.unavailable()
    said = store.remove(SECRET_NAME)
    assert SECRET_VALUE not in said and SECRET_NAME not in store.names()
    with pytest.raises(NotFoundError):
        store.remove(SECRET_NAME)


def test_log_history_only_where_the_target_keeps_it(h: Harness):
    execution = _start(h, "conf-history")
    h.print_console(execution)
    list(h.target.stream_logs(execution.name, follow=True))
    result = _invoke(h, ["logs", execution.name, "--since", "1h"])
    if h.target.capabilities.log_history:
        assert result.exit_code == 0, result.output
        assert all(
            isinstance(line, str)
            for line in h.target.query_logs(execution.name, since=None, system=True)
        )
    else:  # the FakeTarget's query_logs fails the test if it is called
        assert result.exit_code == ExitCode.USAGE and "no log history" in result.stderr


def test_stop_endpoint_only_where_the_target_can(h: Harness):
    result = _invoke(h, ["endpoint", "--stop"])
    if h.target.capabilities.stop_endpoint:
        assert h.target.stop_endpoint() is False  # nothing is running
        assert result.exit_code == ExitCode.NOT_FOUND
    else:  # the FakeTarget's stop_endpoint fails the test if it is called
        assert result.exit_code == ExitCode.USAGE and "--stop" in result.stderr


def test_close_is_idempotent_and_the_target_still_answers(h: Harness):
    h.target.close()
    h.target.close()
    assert isinstance(h.target.executions(), list)
    h.target.close()


def test_stopping_an_ended_execution_leaves_it_stopped(h: Harness):
    """Stopping twice never makes an ended execution look alive again."""
    execution = _start(h, "wait-2")
    h.target.stop_execution(execution.name)
    _wait_until(lambda: h.target.get_execution(execution.name).status.finished)
    with contextlib.suppress(UsageError):  # a target may refuse to stop what has ended
        h.target.stop_execution(execution.name)
    assert h.target.get_execution(execution.name).status == ExecutionStatus.STOPPED


def test_the_platform_behind_the_target_answers_through_the_protocol(h: Harness):
    """Doctor rows, price and free GPU room come from the target itself (never from a caller
    that asks which platform it holds); each answers "not applicable" where there is none."""
    platform = h.target.checks()
    assert isinstance(platform, PlatformChecks) and platform.target
    assert all(isinstance(r, Row) and r.name and r.evidence for r in platform.rows)
    shown = " ".join(f"{r.evidence} {r.fix or ''}" for r in platform.rows)
    assert not [secret for secret in h.secrets_shown if secret in shown]
    pricing = h.target.pricing()
    assert isinstance(pricing, Pricing) and pricing.cost(None) is None
    if pricing.per_second is not None:
        assert pricing.per_second >= 0
        assert pricing.cost(3600) == pytest.approx(pricing.per_second * 3600, abs=1e-3)
    room = h.target.gpu_room()
    assert room is None or (isinstance(room, GpuRoom) and room.free >= 0 and room.evidence)
    result = _invoke(h, ["doctor", "--json"])
    assert result.exit_code in (0, ExitCode.FAILED), result.output
    report = json.loads(result.stdout)
    assert report["target"] == platform.target
    assert [r["check"] for r in report["checks"]] == [r.name for r in platform.rows]


def test_a_target_with_no_platform_says_not_applicable():
    class Bare(NoPlatform):
        kind = "bare"

    bare = Bare()
    assert bare.checks() == PlatformChecks(target="bare")
    assert bare.pricing() == Pricing() and bare.pricing().cost(60) is None
    assert bare.gpu_room() is None
