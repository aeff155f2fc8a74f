"""`ftk sweep`: its points, its parallel cap and state on the share (FakeTarget), stopping it
(local target, stand-in trainer), and starting executions through the real SDK (Azure fake)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cli.errors import UsageError
from cli.ops import sweep as sweep_ops
from cli.ops.sweep_space import apply, points
from cli.targets.base import ExecutionStatus
from cli.targets.local import LocalTarget
from contract.layout import sweep_path
from testkit.fakes.azure import FakeAzure, target_from_outputs
from testkit.fakes.targets import FakeTarget
from tests.cli.conftest import fake_serve_command, stop_all, train_command


def test_a_grid_crosses_every_list():
    grid = points(["train.learning_rate=1e-4,2e-4", "lora.r=8,16"])
    assert grid == [
        {"train.learning_rate": 1e-4, "lora.r": 8},
        {"train.learning_rate": 1e-4, "lora.r": 16},
        {"train.learning_rate": 2e-4, "lora.r": 8},
        {"train.learning_rate": 2e-4, "lora.r": 16},
    ]


def test_samples_draw_log_uniform_floats_integers_and_choices_reproducibly():
    specs = ["train.learning_rate=1e-5:1e-3", "lora.r=4:32", "lora.dropout=0.0,0.1"]
    drawn = points(specs, samples=50, seed=3)
    assert drawn == points(specs, samples=50, seed=3) and len(drawn) == 50
    rates = [p["train.learning_rate"] for p in drawn]
    assert all(1e-5 <= r <= 1e-3 for r in rates)
    assert sum(r < 1e-4 for r in rates) >= 15  # log-uniform: half the mass below 1e-4
    assert all(isinstance(p["lora.r"], int) and 4 <= p["lora.r"] <= 32 for p in drawn)
    assert {p["lora.dropout"] for p in drawn} == {0.0, 0.1}


@pytest.mark.parametrize(
    ("specs", "samples"),
    [(["lr=1e-5:1e-3"], None), (["lr=0.0:1e-3"], 2), (["lr=2:1"], 2), (["lr"], None), ([], None)],
)
def test_unreadable_sweeps_are_usage_errors(specs: list[str], samples: int | None):
    with pytest.raises(UsageError):
        points(specs, samples=samples)


def test_apply_sets_dotted_keys_in_the_yaml():
    text = apply("model:\n  name: m\ntrain:\n  max_steps: 2\n", {"train.learning_rate": 1e-4})
    assert "learning_rate: 0.0001" in text and "max_steps: 2" in text and "name: m" in text


def _finish(target: FakeTarget, name: str, status: ExecutionStatus) -> None:
    i = next(i for i, e in enumerate(target._executions) if e.name == name)
    target._executions[i] = replace(target._executions[i], status=status)


def test_a_sweep_keeps_to_its_parallel_cap_and_its_state_outlives_the_cli(project: Path, invoke):
    target = FakeTarget()
    args = ["sweep", "finetuning/tiny.yaml", "--set", "train.max_steps=1,2,3", "--parallel", "2"]
    result = invoke(target, [*args, "--name", "s1", "--no-sync", "--no-wait", "--json"], project)
    assert result.exit_code == 0, result.output
    assert [run for run, _ in target.started] == ["s1-01", "s1-02"]
    # each point's execution knows its sweep: experiment tracking tags the run with it
    assert [env for _, env in target.started] == [{"FTK_SWEEP_ID": "s1"}] * 2
    assert b"max_steps: 3" not in target.share().read_bytes("runs/s1-02/config.yaml")
    assert target.share().exists(sweep_path("s1"))

    again = invoke(target, ["sweep", "status", "s1", "--json"], project)
    assert again.exit_code == 0 and len(target.started) == 2  # both still running
    _finish(target, "job-1", ExecutionStatus.SUCCEEDED)
    third = invoke(target, ["sweep", "status", "s1", "--json"], project)
    assert third.exit_code == 0, third.output
    assert [run for run, _ in target.started][-1] == "s1-03"
    assert b"max_steps: 3" in target.share().read_bytes("runs/s1-03/config.yaml")
    rows = {r["run_id"]: r for r in json.loads(third.stdout)["runs"]}
    assert rows["s1-01"]["status"] == "succeeded" and rows["s1-03"]["status"] == "running"
    assert rows["s1-02"]["values"] == {"train.max_steps": 2}


def test_a_bad_point_starts_nothing(project: Path, invoke):
    target = FakeTarget()
    args = ["sweep", "finetuning/tiny.yaml", "--set", "train.no_such_key=1,2", "--no-wait"]
    result = invoke(target, [*args, "--no-sync"], project)
    assert result.exit_code == 2, result.output
    assert target.started == []


def test_stopping_a_sweep_stops_its_runs_and_starts_no_more(project: Path, tmp_path: Path, invoke):
    target = LocalTarget(
        project,
        train_command=train_command("wait"),
        serve_command=fake_serve_command,
        model_cache=tmp_path / "cache",
    )
    try:
        args = ["sweep", "finetuning/tiny.yaml", "--set", "train.max_steps=1,2,3,4"]
        opts = ["--parallel", "2", "--name", "w1", "--no-sync", "--no-wait"]
        assert invoke(target, [*args, *opts], project).exit_code == 0
        assert len([e for e in target.executions() if e.status == "running"]) == 2

        stopped = invoke(target, ["sweep", "stop", "w1", "--json"], project)
        assert stopped.exit_code == 0, stopped.output
        assert len(json.loads(stopped.stdout)["stopped"]) == 2
        status = invoke(target, ["sweep", "status", "w1", "--wait", "--json"], project)
        assert status.exit_code == 0, status.output
        rows = json.loads(status.stdout)["runs"]
        assert sorted(r["status"] for r in rows) == ["pending", "pending", "stopped", "stopped"]
        assert len(target.executions()) == 2  # the pending points never started
    finally:
        stop_all(target, timeout=20)


def test_on_azure_a_sweep_starts_executions_through_the_sdk_up_to_the_cap(
    fake_azure: FakeAzure,
    project: Path,
    invoke,
):
    target = target_from_outputs(
        fake_azure.outputs(MAXIMUM_INSTANCE_COUNT=2), connection=fake_azure.connection()
    )
    args = ["sweep", "finetuning/tiny.yaml", "--set", "lora.r=4,8,16", "--name", "a1", "--no-wait"]
    result = invoke(target, [*args, "--json"], project)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["parallel"] == 2  # the stack's MAXIMUM_INSTANCE_COUNT
    assert len(fake_azure.arm.executions) == 2
    assert len(fake_azure.files.files[fake_azure.SHARE]) > 0
    assert invoke(target, ["sweep", "status", "a1"], project).exit_code == 0
    assert len(fake_azure.arm.executions) == 2  # both still running: nothing more starts

    first = fake_azure.arm.executions[0]
    first.status = "Succeeded"
    assert invoke(target, ["sweep", "status", "a1", "--json"], project).exit_code == 0
    assert len(fake_azure.arm.executions) == 3
    target.close()


SERVERLESS_A100 = "Consumption-GPU-NC24-A100"


def _azure_sweep(fake_azure: FakeAzure, project: Path, invoke, name: str, *extra: str):
    target = target_from_outputs(
        fake_azure.outputs(MAXIMUM_INSTANCE_COUNT=3, GPU_PROFILE=SERVERLESS_A100),
        connection=fake_azure.connection(),
    )
    args = ["sweep", "finetuning/tiny.yaml", "--set", "lora.r=4,8,16", "--name", name]
    result = invoke(target, [*args, "--no-wait", "--json", *extra], project)
    target.close()
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["parallel"], result.stderr


def test_on_azure_a_sweep_runs_no_more_at_once_than_the_gpu_quota_has_free(
    fake_azure: FakeAzure, doctor_arm, project: Path, invoke
):
    doctor_arm.usages["ManagedEnvironmentConsumptionNCA100Gpus"] = (3, 4)  # 1 of 4 free
    parallel, stderr = _azure_sweep(fake_azure, project, invoke, "q1")
    assert parallel == 1 and len(fake_azure.arm.executions) == 1
    assert "1 run at once, not 3: 1 GPU is free" in stderr and "3 of 4 in use" in stderr
    assert "quota-requests" in stderr

    doctor_arm.usages["ManagedEnvironmentConsumptionNCA100Gpus"] = (4, 4)
    parallel, stderr = _azure_sweep(fake_azure, project, invoke, "q2", "--parallel", "2")
    assert parallel == 1 and "no GPU is free now" in stderr


def test_on_azure_a_sweep_keeps_its_parallel_when_the_quota_has_room_or_cannot_be_read(
    fake_azure: FakeAzure, doctor_arm, project: Path, invoke
):
    parallel, stderr = _azure_sweep(fake_azure, project, invoke, "r1")  # 0 of 4 in use
    assert parallel == 3 and "at once, not" not in stderr
    doctor_arm.refuse.update({"usages", "environmentUsages"})
    parallel, stderr = _azure_sweep(fake_azure, project, invoke, "r2")
    assert parallel == 3 and "at once, not" not in stderr


class _StopDuringStart(FakeTarget):
    """`ftk sweep stop` lands while the driver is starting its first point (issue 22, item 1)."""

    def start_execution(self, run_id: str, env=None):
        execution = super().start_execution(run_id, env)
        if len(self.started) == 1:
            sweep_ops.stop(self, sweep_ops.load(self, "s9"))
        return execution


def _three_point_sweep(target: FakeTarget, project: Path) -> sweep_ops.Sweep:
    values = [{"train.max_steps": n} for n in (1, 2, 3)]
    config = project / "finetuning" / "tiny.yaml"
    sweep, _ = sweep_ops.create(target, project, config, values, name="s9", parallel=3)
    return sweep


def test_a_stop_given_between_the_drivers_load_and_its_start_starts_nothing(project: Path):
    target = FakeTarget()
    loaded = _three_point_sweep(target, project)  # the driver holds this, stopped: false
    assert sweep_ops.stop(target, sweep_ops.load(target, "s9")) == []
    assert sweep_ops.advance(target, loaded, project) == []
    assert target.started == []
    assert sweep_ops.load(target, "s9").stopped
    assert json.loads(target.share().read_bytes(sweep_path("s9")))["stopped"] is True


def test_a_stop_given_while_a_point_starts_is_kept_and_that_point_is_stopped(project: Path):
    target = _StopDuringStart()
    loaded = _three_point_sweep(target, project)
    started = sweep_ops.advance(target, loaded, project)
    assert [p.run_id for p in started] == ["s9-01"]  # no second or third paid run
    assert target.started[0][0] == "s9-01" and len(target.started) == 1
    assert target.get_execution("job-1").status == ExecutionStatus.STOPPED
    again = sweep_ops.load(target, "s9")
    assert again.stopped and sweep_ops.advance(target, again, project) == []
    assert len(target.started) == 1


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"name": "s9", "config_name": "c", "config_text": "", "parallel": 1}', "no `points`"),
        (
            b'{"name": "s9", "config_name": "c", "config_text": "", "parallel": 1, '
            b'"points": [], "colour": "red"}',
            "unknown field 'colour'",
        ),
        (
            b'{"name": "s9", "config_name": "c", "config_text": "", "parallel": 1, '
            b'"points": [{"run_id": 5, "values": {}}]}',
            "point 1's `run_id` is a int, not a str",
        ),
        (
            b'{"name": "s9", "config_name": "c", "config_text": "", "parallel": "2", "points": []}',
            "`parallel` is a str, not a int",
        ),
    ],
)
def test_a_malformed_sweep_file_is_one_clear_error(project: Path, invoke, content, says):
    target = FakeTarget()
    target.share().make_dirs(".ftk/sweeps")
    target.share().write_bytes(sweep_path("s9"), content)
    for verb in (["status", "s9"], ["stop", "s9"]):
        result = invoke(target, ["sweep", *verb], project)
        assert result.exit_code == 2, result.output
        assert "sweep s9" in result.stderr and says in result.stderr
        assert "unexpected error" not in result.output and "Traceback" not in result.output


def test_a_sweep_on_preference_pairs_is_scored_by_preference_accuracy(monkeypatch, tmp_path):
    """A DPO sweep's eval file holds pairs: no exact match, so the score is the accuracy."""
    from types import SimpleNamespace

    import cli.ops.download
    import cli.ops.evaluate
    from cli.ops.sweep_board import score_with_ftk_eval

    tuned = SimpleNamespace(exact_match=None, preference_accuracy=0.75, mean_loss=1.5)
    report = SimpleNamespace(tuned=tuned, base=tuned)
    monkeypatch.setattr(cli.ops.download, "download_run", lambda *a, **k: None)
    monkeypatch.setattr(cli.ops.evaluate, "find_run", lambda *a, **k: None)
    monkeypatch.setattr(cli.ops.evaluate, "evaluate_run", lambda *a, **k: report)
    target = SimpleNamespace(share=lambda: None)
    assert score_with_ftk_eval(tmp_path, target)("r1", tmp_path / "pairs.jsonl") == (0.75, 1.5)
