"""Where things are: workspace-relative paths, the run directory, the model cache (no torch)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from contract import env as ftk_env
from contract import layout
from training.spec import catalog
from training.spec.config import ConfigError, TrainingConfig
from training.spec.config_checks import output_dir_problem

HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")


def workspace_root(value: str | Path | None = None) -> Path:
    """`--workspace`, else `$FTK_WORKSPACE`, else the current directory."""
    return Path(value or os.environ.get(ftk_env.WORKSPACE) or ".").resolve()


def in_workspace(value: str, workspace: Path) -> Path:
    """A config path: absolute as is, relative to the workspace root otherwise."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else workspace / path


def run_dir(config: TrainingConfig, workspace: Path) -> Path:
    """`output.dir` (workspace-relative), else the config file's folder. A run ftk started is
    not asked here: its folder is `runs/<run id>/`, passed to the trainer explicitly
    (`python -m training --run-dir`, `training.claim`), and `output.dir` is ignored there.

    Raises `ConfigError` when `output.dir` leaves the workspace, by its spelling (see
    `config_checks.output_dir_problem`) or through a symlink inside the workspace.
    """
    if config.output.dir:
        value = config.output.dir
        problem = output_dir_problem(value)
        if problem:
            raise ConfigError(f"output.dir {problem} (got {value!r})", key="output.dir")
        root = workspace.resolve()
        real = (root / value).resolve()
        if real == root or not real.is_relative_to(root):
            raise ConfigError(
                f"output.dir must stay inside the workspace {root}: {value!r} leads to {real} "
                "through a symbolic link",
                key="output.dir",
            )
        return root / value
    if config.source is None:
        raise ValueError("a config built in code needs output.dir")
    return config.source.resolve().parent


def model_cache(workspace: Path) -> Path:
    """`$FTK_MODEL_CACHE`, else `<workspace>/model-cache`."""
    env = os.environ.get(ftk_env.MODEL_CACHE)
    return Path(env) if env else workspace / layout.MODEL_CACHE_DIR


@dataclass(frozen=True)
class ModelRef:
    """How a `model.name` will be found: a local folder, a catalog model or a Hub id."""

    kind: str  # "local" | "catalog" | "hub"
    name: str
    path: Path | None = None
    entry: catalog.CatalogModel | None = None


def looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or "\\" in name or name.count("/") > 1


def classify_model(name: str, workspace: Path) -> ModelRef:
    """Classify `model.name`; raises ValueError with a user-facing message when it is neither."""
    local = in_workspace(name, workspace)
    if local.is_dir():
        return ModelRef("local", name, path=local)
    if looks_like_path(name):
        raise ValueError(f"model folder not found: {local}")
    entry = catalog.find(name)
    if entry is not None:
        return ModelRef("catalog", entry.hf_id, entry=entry)
    if HUB_ID.fullmatch(name):
        return ModelRef("hub", name)
    raise ValueError(
        f"model {name!r} is neither a local folder, a catalog model "
        f"({', '.join(m.id for m in catalog.MODELS)}) nor a Hugging Face id (org/name)"
    )


def cache_folder(cache: Path, model_id: str) -> Path:
    """`<cache>/<org>--<name>/` for a Hub id."""
    return cache / model_id.replace("/", "--")
