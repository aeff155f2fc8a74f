"""Experiment tracking: what a local run logged to MLflow (the default), read back with MLflow's
own client; a resumed run logs into the same MLflow run; backends that cannot log fail first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.conftest import fast_config, rows, training_exits_2, write_config, write_jsonl
from training.rundir import RunDir
from training.spec.config import load_config
from training.train import main

mlflow = pytest.importorskip("mlflow")


def _setup(workspace: Path, model: Path, tracking: dict | None = None, **train) -> Path:
    write_jsonl(workspace / "data/train.jsonl", rows("messages"))
    config = fast_config(model, **train)
    if tracking is not None:
        config["tracking"] = tracking
    return write_config(workspace / "runs/r1/config.yaml", config)


def _client(run: RunDir):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=(run.root / "mlruns").resolve().as_uri())


def _mlflow_run_id(run: RunDir) -> str:
    return json.loads((run.root / "tracking.json").read_text())["mlflow_run_id"]


def test_mlflow_client_reads_back_what_a_local_run_logged(workspace, tiny_llama, monkeypatch):
    monkeypatch.setenv("FTK_SWEEP_ID", "sweep-7")  # as `ftk sweep` sets it on its executions
    config_path = _setup(workspace, tiny_llama, eval_steps=1)
    (workspace / "data/train.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows("messages") * 2)
    )
    config = load_config(config_path)

    assert main(config, workspace=workspace) == 0

    run = RunDir(config_path.parent)
    summary = json.loads(run.summary.read_text())
    client = _client(run)
    logged = client.get_run(_mlflow_run_id(run))
    assert logged.info.status == "FINISHED"
    assert logged.data.metrics["loss"] == summary["train_loss"]  # the same final loss
    history = client.get_metric_history(logged.info.run_id, "loss")
    metrics = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    assert [(m.step, m.value) for m in history] == [
        (row["step"], row["loss"]) for row in metrics if "loss" in row
    ]
    assert {"learning_rate", "grad_norm"} <= set(logged.data.metrics)
    params = logged.data.params
    assert params["train.learning_rate"] == "0.0002" and params["lora.r"] == "4"
    assert params["model.name"] == str(tiny_llama)
    tags = logged.data.tags
    assert tags["ftk.run_id"] == "r1" and tags["ftk.sweep_id"] == "sweep-7"
    assert tags["ftk.status"] == "succeeded"
    experiment = client.get_experiment(logged.info.experiment_id)
    assert experiment.name == "ftk"
    top = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"adapter", "loss.png", "summary.json"} <= top
    adapter = {a.path for a in client.list_artifacts(logged.info.run_id, "adapter")}
    assert "adapter/adapter_config.json" in adapter


def test_a_resumed_run_goes_on_logging_into_the_same_mlflow_run(workspace, tiny_llama):
    config_path = _setup(
        workspace, tiny_llama, {"experiment": "resumes"}, max_steps=3, save_steps=1
    )
    config = load_config(config_path)
    run = RunDir(config_path.parent)

    assert main(config, workspace=workspace, deadline=0.0) == 75  # stops after a step
    first = _mlflow_run_id(run)
    assert _client(run).get_run(first).info.status == "KILLED"  # until it is resumed
    assert main(config, workspace=workspace) == 0

    assert _mlflow_run_id(run) == first
    client = _client(run)
    experiment = client.get_experiment_by_name("resumes")
    assert [r.info.run_id for r in client.search_runs([experiment.experiment_id])] == [first]
    logged = client.get_run(first)
    assert logged.info.status == "FINISHED"
    steps = {m.step for m in client.get_metric_history(first, "loss")}
    assert {1, 3} <= steps
    summary = json.loads(run.summary.read_text())
    assert logged.data.metrics["loss"] == summary["train_loss"]


def test_tracking_none_writes_no_store(workspace, tiny_llama):
    config_path = _setup(workspace, tiny_llama, {"backend": "none"}, max_steps=1)
    assert main(load_config(config_path), workspace=workspace) == 0
    run = RunDir(config_path.parent)
    assert not (run.root / "mlruns").exists() and not (run.root / "tracking.json").exists()


def test_wandb_without_its_key_fails_before_the_model_loads(
    workspace, tiny_llama, capsys, monkeypatch
):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    config_path = _setup(workspace, tiny_llama, {"backend": "wandb", "experiment": "p"})

    error = training_exits_2(config_path, workspace, capsys)
    assert "tracking.backend wandb needs" in error  # package or key
    assert "loading-model" not in capsys.readouterr().err  # before any model is loaded
