"""Experiment tracking for a run: the config's `tracking` section, wired through transformers'
own `report_to` callbacks (MLflowCallback, TensorBoardCallback, WandbCallback).

The callbacks log what the Trainer logs (loss, learning_rate, grad_norm, eval_loss: the numbers
of metrics.jsonl) and the TrainingArguments. What they do not know is added here, around them:

- MLflow (the default): the run is started here before training, so the callback logs into it
  and leaves ending it to us. The ftk config goes in as params (`train.learning_rate`, ...), the
  run id, base model and sweep id as tags; after training the adapter, loss plot and summary go
  in as artifacts. Without `tracking.uri` the store is a folder in the run (`<run>/mlruns`), so
  it travels with the run and `mlflow ui --backend-store-uri <run>/mlruns` shows it. The MLflow
  run id is kept in `<run>/tracking.json`: a resumed run goes on logging into the same MLflow run.
- TensorBoard: event files in `<run>/tensorboard`.
- W&B: project `tracking.experiment`, run named and id'd by the run id (resumed runs continue
  it); the key is the job secret `WANDB_API_KEY` (`ftk secret set WANDB_API_KEY`).

Only the process that writes the run folder (rank 0) tracks.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
from typing import Any

from contract import env as ftk_env
from contract import layout
from training.rundir import RunDir, write_atomic
from training.spec.config import TrainingConfig, to_dict
from training.spec.errors import UserError

log = logging.getLogger("training")

DEFAULT_EXPERIMENT = "ftk"
MLRUNS_DIR = layout.MLRUNS_DIR
TENSORBOARD_DIR = "tensorboard"
STATE_FILE = layout.TRACKING_FILE
SWEEP_ENV = ftk_env.SWEEP_ID  # set by `ftk sweep` on each point's execution
_INSTALL = {"mlflow": "mlflow-skinny", "tensorboard": "tensorboard", "wandb": "wandb"}
_MODULE = {"mlflow": "mlflow", "tensorboard": "tensorboard", "wandb": "wandb"}


def report_to(config: TrainingConfig) -> str:
    """transformers' `report_to` for this config."""
    return config.tracking.backend


def mlflow_uri(config: TrainingConfig, run: RunDir) -> str:
    return config.tracking.uri or (run.root / MLRUNS_DIR).resolve().as_uri()


class Tracker:
    """Starts and ends the tracking run around training (MLflow), or checks what a backend needs."""

    def __init__(self, config: TrainingConfig, run: RunDir):
        self.config = config
        self.run = run
        self.backend = config.tracking.backend
        self.active = run.writer and self.backend != "none"
        self._mlflow: Any = None

    def check(self) -> None:
        """UserError when the backend cannot log (package missing, W&B without its key)."""
        if not self.active:
            return
        self._module()
        keyless = not os.environ.get("WANDB_API_KEY") and os.environ.get("WANDB_MODE") != "offline"
        if self.backend == "wandb" and keyless:
            raise UserError(
                "tracking.backend wandb needs WANDB_API_KEY: `ftk secret set WANDB_API_KEY`"
            )

    def _module(self) -> Any:
        try:
            return importlib.import_module(_MODULE[self.backend])
        except ImportError:
            raise UserError(
                f"tracking.backend {self.backend} needs the {_INSTALL[self.backend]} package "
                "(pip install it, or set tracking.backend: none)"
            ) from None

    def start(self) -> None:
        """Right before training: (MLflow) open or reopen the run; (W&B) name and group it."""
        if not self.active:
            return
        self.check()
        experiment = self.config.tracking.experiment or DEFAULT_EXPERIMENT
        if self.backend == "tensorboard":  # transformers' TensorBoardCallback reads it
            os.environ["TENSORBOARD_LOGGING_DIR"] = str(self.run.root / TENSORBOARD_DIR)
        if self.backend == "wandb":
            os.environ.setdefault("WANDB_PROJECT", experiment)
            os.environ.setdefault("WANDB_NAME", self.run.root.name)
            os.environ.setdefault("WANDB_RUN_ID", _wandb_id(self.run.root.name))
            os.environ.setdefault("WANDB_RESUME", "allow")
            if os.environ.get(SWEEP_ENV):
                os.environ.setdefault("WANDB_RUN_GROUP", os.environ[SWEEP_ENV])
        if self.backend == "mlflow":
            self._start_mlflow(self._module(), experiment)

    def _start_mlflow(self, mlflow: Any, experiment: str) -> None:
        uri = mlflow_uri(self.config, self.run)
        if uri.startswith("file:"):
            # MLflow 3 keeps its file store in "maintenance mode" and refuses it unless asked.
            # It is the store that suits a run folder on an SMB share (SQLite's locking on
            # network file systems is not to be relied on) and needs no database package.
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        mlflow.set_tracking_uri(uri)
        previous = _previous_run(mlflow, _read_state(self.run).get("mlflow_run_id"))
        if previous:
            # The experiment is the run's own (the process may have set another one before).
            mlflow.set_experiment(experiment_id=previous.info.experiment_id)
            active = mlflow.start_run(run_id=previous.info.run_id)
            log.info("tracking: MLflow run %s continues (%s)", active.info.run_id, _safe_uri(uri))
        else:
            mlflow.set_experiment(experiment)
            tags = {"ftk.run_id": self.run.root.name, "ftk.base_model": self.config.model.name}
            if os.environ.get(SWEEP_ENV):
                tags["ftk.sweep_id"] = os.environ[SWEEP_ENV]
            active = mlflow.start_run(run_name=self.run.root.name, tags=tags)
            mlflow.log_params(config_params(self.config))
            write_atomic(
                self.run.root / STATE_FILE,
                json.dumps({"backend": "mlflow", "mlflow_run_id": active.info.run_id}) + "\n",
            )
            log.info(
                "tracking: MLflow run %s in experiment %r (%s)",
                active.info.run_id,
                experiment,
                _safe_uri(uri),
            )
        self._mlflow = mlflow

    def finish(self, status: str) -> None:
        """After the run's files are written: artifacts (when it succeeded), then end the run."""
        if self._mlflow is None:
            return
        mlflow, self._mlflow = self._mlflow, None
        try:
            if status == "succeeded":
                if self.run.adapter.is_dir():
                    mlflow.log_artifacts(str(self.run.adapter), artifact_path="adapter")
                for path in (self.run.loss_plot, self.run.summary):
                    if path.is_file():
                        mlflow.log_artifact(str(path))
            mlflow.set_tag("ftk.status", status)
        finally:
            # resumable: KILLED until the next execution reopens it; failed: FAILED.
            end = {"succeeded": "FINISHED", "failed": "FAILED"}.get(status, "KILLED")
            mlflow.end_run(status=end)


def config_params(config: TrainingConfig) -> dict[str, str]:
    """The ftk config as flat MLflow params: `train.learning_rate` -> "0.0002"."""
    params = {}
    for section, values in to_dict(config).items():
        for key, value in values.items():
            text = json.dumps(value) if isinstance(value, list | dict) else str(value)
            params[f"{section}.{key}"] = text[:6000]  # MLflow's param value limit
    return params


def _previous_run(mlflow: Any, run_id: str | None) -> Any:
    """The MLflow run an earlier execution of this run opened, if the store still has it."""
    if not run_id:
        return None
    try:
        return mlflow.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        log.warning("tracking: MLflow run %s is not in the store; starting a new one", run_id)
        return None


def _read_state(run: RunDir) -> dict[str, Any]:
    try:
        return json.loads((run.root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _wandb_id(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", run_id)[:64]


def _safe_uri(uri: str) -> str:
    """A tracking URI for a log line, without any user:password it may carry."""
    return re.sub(r"//[^/@]*@", "//", uri)
