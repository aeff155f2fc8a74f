"""Phase lines: what the bootstrap, the trainer and the server print is what ps/logs read."""

from __future__ import annotations

import pytest

from contract.phases import Phase, latest_phase, parse_phase, phase_line


@pytest.mark.parametrize("phase", list(Phase))
def test_a_phase_line_reads_back_as_its_phase(phase: Phase) -> None:
    assert parse_phase(phase_line(phase, "detail")) is phase
    assert parse_phase("2026-12-01T12:00:00.123Z stderr F " + phase_line(phase)) is phase


def test_other_lines_are_no_phase() -> None:
    assert parse_phase("step 3 loss 2.1 (training)") is None
    assert parse_phase("ftk-phase: sleeping") is None
    assert (
        latest_phase(["x", phase_line(Phase.PREPARING), "y", phase_line(Phase.TRAINING), "z"])
        is Phase.TRAINING
    )
    assert latest_phase(["x"]) is None
