"""Every error a user can fix (`training.spec.errors.UserError` and each subclass: config, YAML,
data, preference pairs, eval data, model) exits 2 through `python -m training`'s entry, as one
line, wherever it is raised: while reading the config, or once training has started."""

from __future__ import annotations

from pathlib import Path

import pytest

import training.evaluate
import training.models
import training.spec.config
import training.spec.dataset
import training.spec.schema
import training.spec.yamlfile
from tests.training.conftest import fast_config, rows, training_exits_2, write_config, write_jsonl
from training.rundir import RunDir
from training.spec.errors import UserError

# Imported above for their error classes: each module that defines one is listed here.
MODULES = (
    training.spec.config,
    training.spec.schema,
    training.spec.dataset,
    training.evaluate,
    training.models,
    training.spec.yamlfile,
)


def _subclasses(cls: type[Exception]) -> list[type[Exception]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _subclasses(sub)
    return out


USER_ERRORS = sorted(
    {c for c in _subclasses(UserError) if c.__module__.startswith("training.")},
    key=lambda c: c.__name__,
)


def test_each_kind_of_user_error_is_a_user_error():
    names = {c.__name__ for c in USER_ERRORS}
    expected = {"UserError", "ConfigError", "YamlFileError", "DataError", "EvalDataError"}
    assert expected | {"ModelNotFoundError"} <= names
    homes = {m.__name__ for m in MODULES} | {"training.spec.errors"}
    assert all(c.__module__ in homes for c in USER_ERRORS)


@pytest.fixture
def ready(workspace: Path) -> Path:
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    return write_config(workspace / "runs/r1/config.yaml", fast_config("org/model"))


@pytest.mark.parametrize("error", USER_ERRORS, ids=lambda c: c.__name__)
def test_raised_while_training_it_exits_2_and_marks_the_run_failed(
    error: type[UserError], ready: Path, workspace: Path, capsys, monkeypatch
):
    import training.train

    def fails(*args: object, **kwargs: object) -> None:
        raise error("the user's mistake, named")

    monkeypatch.setattr(training.train, "_train", fails)
    assert training_exits_2(ready, workspace, capsys) == "the user's mistake, named"
    assert RunDir(ready.parent).status() == "failed"


@pytest.mark.parametrize("error", USER_ERRORS, ids=lambda c: c.__name__)
def test_raised_while_reading_the_config_it_exits_2(
    error: type[UserError], ready: Path, workspace: Path, capsys, monkeypatch
):
    import training.cli

    def fails(path: Path) -> None:
        raise error("bad key, named")

    monkeypatch.setattr(training.cli, "load_config", fails)
    assert "bad key, named" in training_exits_2(ready, workspace, capsys)
