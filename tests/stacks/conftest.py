"""Stack test fixtures: fresh Pulumi mocks per test (see testkit/fakes/pulumi_mocks.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pulumi
import pytest

from testkit.fakes.pulumi_mocks import RecordingMocks


@pytest.fixture
def pulumi_mocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingMocks]:
    """Fresh mocks for this test (project ftk, stack dev), on an event loop of its own.

    The config env vars that `set_stack_config` writes are put back as they were afterwards.

    Pulumi's mocks need a current event loop; a test that ran `asyncio.run` earlier in the same
    worker (the server tests do) leaves none, so each stack test gets a fresh one.
    """
    for name in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS"):
        monkeypatch.delenv(name, raising=False)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(
        mocks, project="ftk", stack="dev", preview=False, monitor=mocks.monitor
    )
    yield mocks
    # A test that read secret config outside `pulumi.runtime.test` leaves Output tasks pending;
    # finish them on this loop so none is carried into the next test's loop.
    pending = asyncio.all_tasks(loop)
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    asyncio.set_event_loop(None)
    loop.close()
