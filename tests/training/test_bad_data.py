"""Bad datasets, model folders and device choices: one clear error (exit 2), and repeated
warnings summarised.

Each block is a row of the table in docs/security.md ("Bad input: training configs and
datasets"); keep the case counts there in step when adding cases here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.training.conftest import (
    cli_is_one_line,
    fast_config,
    rows,
    training_exits_2,
    write_config,
    write_jsonl,
)
from training.cli import run
from training.spec.config import DataSection
from training.spec.dataset import check_file
from training.spec.validate import validate_config_file

# ---- JSONL lines end at \n only ----


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085"], ids=["U+2028", "U+2029", "U+0085"])
def test_line_separators_inside_json_strings_are_text(tmp_path: Path, char: str):
    items = rows("text")
    items[1] = {"text": f"first{char}second"}
    path = tmp_path / "d.jsonl"
    lines = [json.dumps(item, ensure_ascii=False) for item in items]
    lines[4] = "{broken"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check = check_file(path, DataSection(train_file="x"))
    assert [(p.line, p.message.split(":")[0]) for p in check.errors] == [(5, "invalid JSON")]
    assert check.examples[1] == (2, {"text": f"first{char}second"})
    assert [line for line, _ in check.examples] == [1, 2, 3, 4, 6, 7, 8]


def test_a_lone_surrogate_is_an_error_on_its_line_not_a_tokenizer_crash(
    workspace: Path, tiny_llama: Path
):
    items = [json.dumps(item) for item in rows("text")]
    items[2] = '{"text": "broken \\ud800 text"}'  # valid JSON, not valid Unicode text
    train = workspace / "data/train.jsonl"
    train.parent.mkdir(parents=True)
    train.write_text("\n".join(items) + "\n", encoding="utf-8")
    path = write_config(workspace / "c.yaml", fast_config(tiny_llama))
    report = validate_config_file(path, workspace)  # counts tokens with the model's tokenizer
    assert [(e.line, e.message.split(":")[0]) for e in report.errors] == [(3, "invalid text")]


def _model_without(tiny_llama: Path, workspace: Path, *missing: str) -> Path:
    folder = workspace / "models" / "broken"
    shutil.copytree(tiny_llama, folder)
    for name in missing:
        (folder / name).unlink()
    return folder


@pytest.mark.parametrize(
    ("missing", "problem"),
    [
        (("config.json",), "no config.json"),
        (("model.safetensors",), "no weights"),
        (("config.json", "model.safetensors"), "no config.json"),
    ],
)
def test_a_broken_model_folder_is_one_error_naming_it(
    workspace: Path, tiny_llama: Path, missing: tuple[str, ...], problem: str, capsys
):
    folder = _model_without(tiny_llama, workspace, *missing)
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    path = write_config(workspace / "c.yaml", fast_config("models/broken"))
    [error] = validate_config_file(path, workspace).errors
    assert error.line == 2 and str(folder) in error.message and problem in error.message
    line = cli_is_one_line(
        ["validate", "--config", str(path), "--workspace", str(workspace)], capsys
    )
    assert str(folder) in line


def _truncate_weights(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])


def _drop_tokenizer(folder: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)


def _drop_model_type(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    del config["model_type"]
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("damage", [_truncate_weights, _drop_tokenizer, _drop_model_type])
def test_training_on_a_model_folder_found_broken_at_load_exits_2_naming_it(
    workspace: Path, tiny_llama: Path, capsys, damage
):
    folder = _model_without(tiny_llama, workspace)
    damage(folder)
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    path = write_config(workspace / "runs/r1/config.yaml", fast_config("models/broken"))
    assert str(folder) in training_exits_2(path, workspace, capsys)


def test_flash_attention_without_cuda_exits_2_before_loading(workspace: Path, capsys):
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    (workspace / "m").mkdir()
    (workspace / "m/config.json").write_text("{}")
    (workspace / "m/model.safetensors").write_bytes(b"")  # never opened: the check comes first
    cfg = fast_config("m")
    cfg["model"]["attn_implementation"] = "flash_attention_2"
    path = write_config(workspace / "runs/r1/config.yaml", cfg)
    error = training_exits_2(path, workspace, capsys)
    assert "flash_attention_2 needs a CUDA GPU" in error and "sdpa" in error


@pytest.mark.parametrize(
    ("hw", "precision", "flash_attn", "message"),
    [
        (("cpu", "cpu", None), "fp32", True, "needs a CUDA GPU"),
        (("cuda", "Tesla T4", (7, 5)), "fp16", True, "compute capability 7.5"),
        (("cuda", "A100", (8, 0)), "fp32", True, "bf16 or fp16 precision"),
        (("cuda", "A100", (8, 0)), "bf16", False, "flash-attn package"),
        (("cuda", "A100", (8, 0)), "bf16", True, None),
    ],
    ids=["cpu", "t4", "fp32", "no-package", "ok"],
)
def test_flash_attention_needs_what_the_device_lacks(
    hw, precision, flash_attn, message, monkeypatch
):
    import importlib.util

    from training import hardware
    from training.spec.errors import UserError

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (
            (object() if flash_attn else None) if name == "flash_attn" else find_spec(name, *a)
        ),
    )
    device = hardware.Hardware(*hw)
    for other in (None, "eager", "sdpa"):
        hardware.check_attention(other, device, precision)
    if message is None:
        hardware.check_attention("flash_attention_2", device, precision)
        return
    with pytest.raises(UserError, match=message):
        hardware.check_attention("flash_attention_2", device, precision)


# ---- repeated warnings are summarised ----


def _duplicates(workspace: Path, tiny_llama: Path, copies: int) -> Path:
    item = rows("text")[0]
    write_jsonl(workspace / "data/train.jsonl", [item] * (copies + 1))
    return write_config(workspace / "c.yaml", fast_config(tiny_llama))


def test_many_duplicates_print_as_one_line_with_a_way_to_see_all(
    workspace: Path, tiny_llama: Path, capsys
):
    path = _duplicates(workspace, tiny_llama, 580)
    args = ["validate", "--config", str(path), "--workspace", str(workspace)]
    assert run(args) == 0
    [warning] = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"warning: {workspace / 'data/train.jsonl'}:2: 580 examples repeat")
    assert "lines 2, 3, 4, 5, 6 and 575 more" in warning
    assert "--all-warnings" in warning
    assert run([*args, "--all-warnings"]) == 0
    assert len(capsys.readouterr().err.splitlines()) == 580
    assert run([*args, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["warnings"]) == 580


def test_a_few_duplicates_are_still_listed_one_by_one(workspace: Path, tiny_llama: Path):
    report = validate_config_file(_duplicates(workspace, tiny_llama, 3), workspace)
    assert [w.split(": ", 1)[1] for w in report.warning_lines()] == [
        "duplicate of line 1",
        "duplicate of line 1",
        "duplicate of line 1",
    ]


def test_ftk_run_validation_summarises_duplicates_too(workspace: Path, tiny_llama: Path):
    from cli.ops.runs import validate_config

    [warning] = validate_config(_duplicates(workspace, tiny_llama, 50), workspace)
    assert "50 examples repeat an earlier example" in warning
