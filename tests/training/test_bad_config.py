"""Bad training configs end as one clear error naming the key and line (exit 2), never a traceback.

Each block is a row of the table in docs/security.md ("Bad input: training configs and
datasets"); keep the case counts there in step when adding cases here.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from contract.commands import train_argv
from tests.training.conftest import (
    cli_is_one_line,
    fast_config,
    rows,
    training_exits_2,
    write_config,
    write_jsonl,
)
from training.cli import run
from training.spec.config import ConfigError, load_config, parse_config
from training.spec.schema import SECTIONS
from training.spec.validate import validate_config_file

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = "model:\n  name: org/model\ndata:\n  train_file: train.jsonl\n"


def _with(section: str, body: str) -> str:
    """MINIMAL plus `section:` with `body` (indented keys), the section's key on line 5."""
    return MINIMAL + f"{section}:\n" + "".join(f"  {line}\n" for line in body.splitlines())


# ---- output.dir must stay inside the workspace ----


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("../../..", "'..' is not allowed"),
        ("runs/../../elsewhere", "'..' is not allowed"),
        ("..\\..\\elsewhere", "'..' is not allowed"),
        ("/tmp/elsewhere", "not an absolute path"),
        ("~/runs", "not an absolute path"),
        ("C:/runs", "not an absolute path"),
        (".", "not the workspace itself"),
    ],
)
def test_output_dir_outside_the_workspace_is_refused(value: str, rule: str):
    with pytest.raises(ConfigError) as info:
        parse_config(_with("output", f"dir: {json.dumps(value)}"))
    assert info.value.key == "output.dir"
    assert info.value.line == 6
    assert str(info.value).startswith("output.dir must") and rule in str(info.value)


def test_output_dir_inside_the_workspace_is_kept():
    assert parse_config(_with("output", "dir: runs/r1")).output.dir == "runs/r1"


def test_output_dir_is_the_run_folder_only_when_ftk_did_not_start_the_run(
    tmp_path: Path, monkeypatch, caplog
):
    """ftk passes a run's folder (`--run-dir`, as the local target and `claim` do); the trainer
    is handed the folder it trains in, never left to find it from the environment."""
    import training.train

    folders: list[Path] = []

    def fake_main(config, *, run_dir, **_):
        folders.append(run_dir)
        return 0

    monkeypatch.setattr(training.train, "main", fake_main)
    workspace = (tmp_path / "ws").resolve()
    cfg = {**fast_config("org/model"), "output": {"dir": "outputs/shared"}}
    path = str(write_config(workspace / "runs/r1/config.yaml", cfg))
    monkeypatch.setenv("FTK_RUN_ID", "r1")  # decides nothing: only the argument does
    assert run(["--config", path, "--workspace", str(workspace)]) == 0  # python -m training alone
    assert "is ignored" not in caplog.text
    own = str(workspace / "runs/r1")
    assert run(["--config", path, "--workspace", str(workspace), "--run-dir", own]) == 0
    local = train_argv(sys.executable, Path(path), workspace, workspace / "runs/r1")
    assert local[1:3] == ["-m", "training"] and run(local[3:]) == 0  # the local target's command
    assert folders == [workspace / "outputs/shared", *[workspace / "runs/r1"] * 2]
    assert "output.dir 'outputs/shared' is ignored: ftk keeps this run in" in caplog.text


def test_output_dir_through_a_symlink_out_of_the_workspace_is_refused(tmp_path: Path, capsys):
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    (workspace / "link").symlink_to(outside, target_is_directory=True)
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    cfg = {**fast_config("org/model"), "output": {"dir": "link/run"}}
    path = write_config(workspace / "c.yaml", cfg)
    report = validate_config_file(path, workspace)
    [error] = [e for e in report.errors if "output.dir" in e.message]
    assert "symbolic link" in error.message and error.line is not None
    assert "output.dir" in training_exits_2(path, workspace, capsys)
    assert list(outside.iterdir()) == []


def test_training_with_output_dir_through_a_symlink_is_one_line(tmp_path: Path, capsys):
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    outside.mkdir()
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    (workspace / "link").symlink_to(outside, target_is_directory=True)
    cfg = {**fast_config("org/model"), "output": {"dir": "link/run"}}
    path = write_config(workspace / "c.yaml", cfg)
    line = cli_is_one_line(["--config", str(path), "--workspace", str(workspace)], capsys)
    assert "output.dir" in line and "symbolic link" in line
    assert list(outside.iterdir()) == []


def test_training_with_output_dir_up_the_tree_writes_nothing_there(tmp_path: Path, capsys):
    workspace = tmp_path / "a" / "b" / "c" / "ws"  # ../../.. is tmp_path/a
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    cfg = {**fast_config("org/model"), "output": {"dir": "../../.."}}
    path = write_config(workspace / "runs/r1/config.yaml", cfg)
    line = cli_is_one_line(["--config", str(path), "--workspace", str(workspace)], capsys)
    assert "output.dir" in line
    assert not list(tmp_path.rglob("status")), "a run folder was made outside the workspace"


# ---- configs that used to end in a traceback ----


def _float_keys() -> list[str]:
    keys = []
    for name, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            if float in (typing.get_args(hint) or (hint,)):
                keys.append(f"{name}.{f.name}")
    return keys


FLOAT_KEYS = _float_keys()


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e400"])
@pytest.mark.parametrize("key", FLOAT_KEYS)
def test_non_finite_numbers_are_refused_for_every_float_key(key: str, value: str):
    section, name = key.split(".")
    text = (
        MINIMAL.replace("data:\n  train_file: train.jsonl\n", "") if section == "data" else MINIMAL
    )
    extra = f"{section}:\n" + ("  train_file: t.jsonl\n" if section == "data" else "")
    with pytest.raises(ConfigError, match=rf"^{key} must be a finite number") as info:
        parse_config(text + extra + f"  {name}: {value}\n")
    assert info.value.key == key


def test_every_float_key_is_covered():
    assert len(FLOAT_KEYS) >= 7 and "train.learning_rate" in FLOAT_KEYS


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("seed: -1", "train.seed must be between 0 and 4294967295"),
        ("seed: 4294967296", "train.seed must be between 0 and 4294967295"),
        ("seed: 100000000000000000000000000000", "train.seed must be between 0"),
        ("num_threads: 1000000000", "train.num_threads must be between 1 and 256"),
        ("num_threads: 0", "train.num_threads must be between 1 and 256"),
        ("max_steps: 100000000000000000000", "train.max_steps must be between"),
    ],
)
def test_integers_out_of_range_are_refused(body: str, message: str):
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(_with("train", body))
    assert info.value.line == 6


def test_integers_at_the_edges_of_their_range_are_kept():
    config = parse_config(_with("train", "seed: 4294967295\nnum_threads: 256"))
    assert (config.train.seed, config.train.num_threads) == (2**32 - 1, 256)
    assert parse_config(_with("train", "seed: 0")).train.seed == 0


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (MINIMAL + "model:\n  name: other/model\n", 5, "model"),
        (_with("train", "learning_rate: 0.1\nepochs: 2\nlearning_rate: 0.5"), 8, "learning_rate"),
        (_with("lora", "{r: 8, r: 16}"), 6, "r"),
    ],
    ids=["section", "key", "flow-mapping"],
)
def test_duplicate_keys_are_an_error_naming_the_line(text: str, line: int, key: str):
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert info.value.line == line
    assert f"duplicate key {key!r}" in str(info.value)


def test_a_merge_key_may_still_be_overridden():
    config = parse_config(_with("train", "<<: {epochs: 2, batch_size: 2}\nepochs: 3"))
    assert (config.train.epochs, config.train.batch_size) == (3.0, 2)


@pytest.mark.parametrize(
    ("section", "body", "key"),
    [
        ("train", 'optimizer: "adamw\\ud800"', "train.optimizer"),
        ("output", 'dir: "runs/\\ud800"', "output.dir"),
        ("lora", 'target_modules: [q_proj, "\\udc80"]', "lora.target_modules"),
    ],
)
def test_a_lone_surrogate_in_a_string_is_refused(section: str, body: str, key: str):
    with pytest.raises(ConfigError, match=rf"^{key} must be valid Unicode text"):
        parse_config(_with(section, body))


def test_a_config_that_is_not_utf8_names_the_line(tmp_path: Path, capsys):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"model:\n  name: org/caf\xe9\ndata:\n  train_file: t.jsonl\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "not UTF-8" in str(info.value) and info.value.line == 2
    line = cli_is_one_line(["validate", "--config", str(path)], capsys)
    assert line.startswith("error: ") and "not UTF-8" in line and f"{path}:2" in line


BAD_CONFIGS = {
    "inf-learning-rate": _with("train", "learning_rate: .inf"),
    "nan-dropout": _with("lora", "dropout: .nan"),
    "seed-out-of-range": _with("train", "seed: -5"),
    "absurd-threads": _with("train", "num_threads: 1000000000"),
    "duplicate-key": _with("train", "epochs: 1\nepochs: 2"),
    "output-dir-up": _with("output", "dir: ../../.."),
}


@pytest.mark.parametrize("text", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_configs_are_one_line_and_exit_2_in_both_commands(tmp_path: Path, text: str, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    line = cli_is_one_line(["validate", "--config", str(path)], capsys)
    assert line.startswith(f"error: {path}:")
    line = cli_is_one_line(["--config", str(path), "--workspace", str(tmp_path)], capsys)
    assert line.startswith(f"error: {path}: ")


def test_python_m_training_exits_2_on_an_infinite_learning_rate(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(BAD_CONFIGS["inf-learning-rate"], encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "training", "--config", str(path), "--workspace", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "train.learning_rate must be a finite number (got inf) (line 6)" in done.stderr


def test_the_yaml_loader_is_a_safe_loader():
    from training.spec.yamlfile import StrictLoader

    assert issubclass(StrictLoader, yaml.SafeLoader)
    with pytest.raises(ConfigError):
        parse_config(MINIMAL + "train: !!python/object/apply:os.system ['true']\n")


def _alias_bomb(levels: int) -> str:
    """A "billion laughs" in `lora.target_modules`: each level is nine aliases of the last."""
    items = ["    - &l0 [q, q, q, q, q, q, q, q, q]"]
    items += [f"    - &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return MINIMAL + "lora:\n  target_modules:\n" + "\n".join(items) + "\n"


@pytest.mark.parametrize("levels", [7, 8, 9])
def test_an_alias_bomb_is_refused_in_one_short_line(tmp_path: Path, levels: int, capsys):
    text = _alias_bomb(levels)
    assert len(text) < 700  # a few hundred bytes; 9 ** levels values once expanded
    with pytest.raises(ConfigError, match="expand to more than 10000 values") as info:
        parse_config(text)
    assert len(str(info.value)) < 200
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    line = cli_is_one_line(["validate", "--config", str(path)], capsys)
    assert len(line) < 300 and "expand to more than" in line


def test_an_error_echoes_a_bounded_part_of_a_large_value():
    many = "[" + ", ".join(["q"] * 2000) + "]"
    text = MINIMAL + f"lora:\n  target_modules: [{many}, {many}, {many}]\n"
    with pytest.raises(ConfigError, match=r"lora\.target_modules must be") as info:
        parse_config(text)
    assert len(str(info.value)) < 300


def test_aliases_of_a_small_list_are_still_read():
    text = MINIMAL + "lora:\n  target_modules: &m [q_proj, v_proj]\ntrain:\n  epochs: 1\n"
    assert parse_config(text).lora.target_modules == ("q_proj", "v_proj")


@pytest.mark.parametrize("key", ["max_steps", "seed"])
def test_a_5000_digit_integer_is_one_line_and_exit_2(tmp_path: Path, key: str, capsys):
    text = _with("train", f"{key}: {'9' * 5000}")
    with pytest.raises(ConfigError, match="integer of 5000 characters is too large"):
        parse_config(text)
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    for argv in (
        ["validate", "--config", str(path)],
        ["--config", str(path), "--workspace", str(tmp_path)],
    ):
        line = cli_is_one_line(argv, capsys)
        assert "too large" in line and len(line) < 300
