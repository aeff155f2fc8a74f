"""Stack test fixtures: fresh Pulumi mocks per test (see tests/stacks/mocks.py)."""

from __future__ import annotations

import pulumi
import pytest

from tests.stacks.mocks import RecordingMocks


@pytest.fixture
def pulumi_mocks() -> RecordingMocks:
    """Fresh mocks for this test (project ftk, stack dev)."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(
        mocks, project="ftk", stack="dev", preview=False, monitor=mocks.monitor
    )
    return mocks
