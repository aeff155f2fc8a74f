"""The run directory: only complete checkpoints count, rotation never leaves none."""

from __future__ import annotations

from pathlib import Path

from training.rundir import RunDir


def _checkpoint(run: RunDir, step: int, complete: bool) -> None:
    run.checkpoint(step).mkdir(parents=True)
    (run.checkpoint(step) / "adapter_model.safetensors").write_bytes(b"x")
    if complete:
        run.mark_complete(step)


def test_partial_checkpoints_are_skipped_and_removed(tmp_path: Path):
    run = RunDir(tmp_path)
    _checkpoint(run, 10, complete=True)
    _checkpoint(run, 20, complete=True)
    _checkpoint(run, 30, complete=False)
    assert run.latest_checkpoint() == run.checkpoint(20)
    assert run.remove_partial_checkpoints() == [run.checkpoint(30)]
    assert run.checkpoint_steps(complete_only=False) == [10, 20]


def test_rotation_keeps_the_newest_complete_checkpoints(tmp_path: Path):
    run = RunDir(tmp_path)
    for step in (2, 4, 6):
        _checkpoint(run, step, complete=True)
    _checkpoint(run, 8, complete=False)  # being written right now
    run.rotate(keep=1)
    assert run.checkpoint_steps(complete_only=False) == [6, 8]
    run.rotate(keep=None)
    assert run.checkpoint_steps() == [6]


def test_status_is_one_word(tmp_path: Path):
    run = RunDir(tmp_path)
    assert run.status() is None
    run.set_status("resumable")
    assert run.status_file.read_text() == "resumable\n"
