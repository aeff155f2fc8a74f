"""Where things live on the share the job and the app mount (paths are posix, share-relative).

```
<workspace files>                synced from the user's project
.ftk/manifest.json               what the last sync wrote
.ftk/requests/<execution>.json   the run an Azure execution is for (`ftk run` / `resume`)
.ftk/claims/<execution>.json     the execution took its request (an exclusive create)
.ftk/envs/<lock>-<key>/          installed dependencies of one lock, built once (bootstrap.envs)
.ftk/sweeps/<sweep>.json         a sweep: its points (values, run ids, executions) and state
.ftk/sweeps/<sweep>.stop         `ftk sweep stop` was given (written only by stop, never rewritten)
model-cache/<org>--<name>/       base models, downloaded once (HF_HOME under model-cache/hf)
runs/<run id>/                   one run: config.yaml, checkpoints/, adapter/, metrics.jsonl,
                                 loss.png, summary.json, status, .lock (held by its trainer),
                                 mlruns/ + tracking.json (MLflow tracking, the default)
```
`RunLayout` names a run's paths on the share; the training code (`training.rundir.RunDir`) builds
the same names under a local folder.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Final

MANIFEST: Final = ".ftk/manifest.json"
# An Azure execution is started with the job's own template (a start override replaces the whole
# template, volumes included), so the run it trains is not passed to it: `ftk run` leaves a
# request here under the execution's name, and that execution records its take in CLAIMS_DIR
# (contract.requests).
REQUESTS_DIR: Final = ".ftk/requests"
CLAIMS_DIR: Final = ".ftk/claims"
# Dependency sets the job and the app install once per lock file and reuse (bootstrap.envs).
ENVS_DIR: Final = ".ftk/envs"
SWEEPS_DIR: Final = ".ftk/sweeps"  # one JSON file per sweep (`ftk sweep`), so it outlives the CLI
MODEL_CACHE_DIR: Final = "model-cache"
HF_HOME_DIR: Final = "hf"  # under the model cache
RUNS_DIR: Final = "runs"

# Inside a run folder.
CONFIG_FILE: Final = "config.yaml"
CHECKPOINTS_DIR: Final = "checkpoints"
ADAPTER_DIR: Final = "adapter"
ADAPTER_CONFIG_FILE: Final = "adapter_config.json"  # PEFT's; records the base model
METRICS_FILE: Final = "metrics.jsonl"
LOSS_PLOT_FILE: Final = "loss.png"
SUMMARY_FILE: Final = "summary.json"
STATUS_FILE: Final = "status"
COMPLETE_MARKER: Final = ".complete"  # written last into a checkpoint folder
# Held (flock) by the run's live trainer, so a run never has two (training.spec.runlock).
RUN_LOCK_FILE: Final = ".lock"
# Experiment tracking (training.tracking): MLflow's default file store, and which MLflow run
# a resumed run goes on logging into.
MLRUNS_DIR: Final = "mlruns"
TRACKING_FILE: Final = "tracking.json"
# What `ftk download` fetches besides the adapter (and the MLflow store, when there is one).
RESULT_FILES: Final = (
    METRICS_FILE,
    LOSS_PLOT_FILE,
    SUMMARY_FILE,
    STATUS_FILE,
    CONFIG_FILE,
    TRACKING_FILE,
)
RESULT_DIRS: Final = (ADAPTER_DIR, MLRUNS_DIR)

# A run's status file holds one of these words.
STATUSES: Final = ("running", "succeeded", "failed", "resumable")


@dataclass(frozen=True)
class RunLayout:
    """The share paths of one run, relative to the share root (or to `root`, e.g. a mount path)."""

    run_id: str
    root: str = ""

    @property
    def folder(self) -> str:
        return posixpath.join(self.root, RUNS_DIR, self.run_id)

    def path(self, *parts: str) -> str:
        return posixpath.join(self.folder, *parts)

    @property
    def config(self) -> str:
        return self.path(CONFIG_FILE)

    @property
    def status(self) -> str:
        return self.path(STATUS_FILE)

    @property
    def adapter(self) -> str:
        return self.path(ADAPTER_DIR)

    @property
    def adapter_config(self) -> str:
        return self.path(ADAPTER_DIR, ADAPTER_CONFIG_FILE)

    @property
    def lock(self) -> str:
        return self.path(RUN_LOCK_FILE)

    @property
    def checkpoints(self) -> str:
        return self.path(CHECKPOINTS_DIR)

    @property
    def metrics(self) -> str:
        return self.path(METRICS_FILE)

    @property
    def summary(self) -> str:
        return self.path(SUMMARY_FILE)

    @property
    def loss_plot(self) -> str:
        return self.path(LOSS_PLOT_FILE)

    def prefix(self) -> str:
        """`runs/<run>/`: what every file of the run starts with (for listing the share)."""
        return self.folder + "/"


RUN_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")  # also sweep names


def valid_run_id(run_id: str) -> bool:
    """Whether `run_id` may name a run (a folder under `runs/`): the whole string matches, so
    no trailing newline gets through (`$` would allow one)."""
    return RUN_ID_PATTERN.fullmatch(run_id) is not None


def sweep_path(sweep: str) -> str:
    """The sweep's state file on the share."""
    return posixpath.join(SWEEPS_DIR, f"{sweep}.json")


def sweep_stop_path(sweep: str) -> str:
    """The sweep's stop mark: a file of its own, so no driver's save of the state can undo it."""
    return posixpath.join(SWEEPS_DIR, f"{sweep}.stop")
