"""`validate` (pure Python) reports config, model and data problems with file and line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.training.conftest import fast_config, rows, write_config, write_jsonl
from training.cli import run
from training.spec.validate import validate_config_file


def test_valid_config_reports_counts(workspace: Path, tiny_llama: Path):
    write_jsonl(workspace / "data/train.jsonl", rows("messages"))
    cfg = fast_config(tiny_llama)
    cfg["data"]["eval_split"] = 0.25
    report = validate_config_file(write_config(workspace / "c.yaml", cfg), workspace)
    assert report.ok, report.errors
    assert report.stats["format"] == "messages"
    assert (report.stats["train_examples"], report.stats["eval_examples"]) == (6, 2)


def test_missing_model_folder_names_the_config_line(workspace: Path):
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    path = write_config(workspace / "c.yaml", fast_config("./models/nope"))
    report = validate_config_file(path, workspace)
    assert not report.ok
    [issue] = report.errors
    assert issue.file == str(path)
    assert issue.line == 2
    assert "model folder not found" in issue.message


def test_data_errors_carry_file_and_line(workspace: Path, tiny_llama: Path):
    items = rows("prompt_completion")
    items[3] = {"prompt": "only a prompt"}
    train = write_jsonl(workspace / "data/train.jsonl", items)
    report = validate_config_file(
        write_config(workspace / "c.yaml", fast_config(tiny_llama)), workspace
    )
    assert [(i.file, i.line, i.message) for i in report.errors] == [
        (str(train), 4, "missing field 'completion'")
    ]


def test_long_examples_are_counted_with_the_models_tokenizer(workspace: Path, tiny_llama: Path):
    items = [*rows("text"), {"text": "The quick brown fox jumps over the lazy dog. " * 30}]
    write_jsonl(workspace / "data/train.jsonl", items)
    report = validate_config_file(
        write_config(workspace / "c.yaml", fast_config(tiny_llama)), workspace
    )
    assert report.ok
    [warning] = report.warnings
    assert warning.line == len(items)
    assert "1 example(s) are longer than train.max_length=64 tokens and will" in warning.message


def test_gated_catalog_model_warns_with_one_gpu_sizing_advice(workspace: Path):
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    cfg = fast_config(Path("x"))
    cfg["model"]["name"] = "meta-llama/Meta-Llama-3-8B-Instruct"
    report = validate_config_file(write_config(workspace / "c.yaml", cfg), workspace)
    assert report.ok
    [warning] = [w for w in report.warnings if "Meta-Llama-3-8B" in w.message]
    assert "One serverless A100" in warning.message and "HF_TOKEN" in warning.message
    assert "2 A100" not in warning.message and "2 x" not in warning.message


def test_cli_validate_json_and_exit_code(workspace: Path, tiny_llama: Path, capsys):
    write_jsonl(workspace / "data/train.jsonl", [{"text": ""}])
    path = write_config(workspace / "c.yaml", fast_config(tiny_llama))
    code = run(["validate", "--config", str(path), "--workspace", str(workspace), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 2
    assert out["ok"] is False
    assert out["errors"][0]["line"] == 1


def test_cli_unknown_key_exits_2_without_traceback(workspace: Path, capsys):
    path = workspace / "c.yaml"
    path.write_text("model:\n  name: x/y\n  nmae: z\ndata:\n  train_file: t.jsonl\n")
    assert run(["--config", str(path), "--workspace", str(workspace)]) == 2
    err = capsys.readouterr().err
    assert "model.nmae" in err and "line 3" in err and "Traceback" not in err


def test_cli_takes_the_deadline_from_the_job_env(workspace: Path, monkeypatch):
    import training.train

    seen = {}

    def fake_main(config, workspace, deadline, started_at, run_dir):
        seen.update(deadline=deadline, workspace=workspace, model=config.model.name)
        return 75

    monkeypatch.setattr(training.train, "main", fake_main)
    monkeypatch.setenv("FTK_TIME_BUDGET_SECONDS", "1800")
    monkeypatch.setenv("FTK_WORKSPACE", str(workspace))
    path = write_config(workspace / "runs/r1/config.yaml", fast_config("org/model"))
    assert run(["--config", str(path)]) == 75
    assert seen == {"deadline": 1800.0, "workspace": workspace.resolve(), "model": "org/model"}
    assert run(["--config", str(path), "--deadline", "60"]) == 75
    assert seen["deadline"] == 60.0
