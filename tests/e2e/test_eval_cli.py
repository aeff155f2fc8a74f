"""`ftk eval RUN --data FILE`: a downloaded run, a run on the local share, user mistakes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from cli.app import App
from cli.errors import ExitCode
from cli.main import cli


def _ftk(args: list[str], app: App | None = None):
    return CliRunner().invoke(cli, args, obj=app, catch_exceptions=False)


def _downloaded_run(project: Path, adapter: Path, run_id: str = "r1") -> Path:
    """What `ftk download` leaves in ./runs/RUN: the adapter and the run's config."""
    run = project / "runs" / run_id
    shutil.copytree(adapter, run / "adapter")
    (run / "config.yaml").write_text("model:\n  name: x\ndata:\n  train_file: t.jsonl\n")
    return run


def test_eval_of_a_downloaded_run_as_json(tmp_path, tiny_adapter, eval_file):
    project = tmp_path / "proj"
    _downloaded_run(project, tiny_adapter)
    app = App(project_dir=project)
    result = _ftk(["eval", "r1", "--data", str(eval_file), "--json"], app)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["run_id"] == "r1" and data["format"] == "messages"
    assert data["base"]["examples"] == data["fine_tuned"]["examples"] == 6
    assert data["adapter"] == str(project / "runs/r1/adapter")
    assert data["fine_tuned"]["mean_loss"] != data["base"]["mean_loss"]
    kept = json.loads((project / "runs/r1/eval.json").read_text())  # for `ftk publish`'s card
    assert kept["fine_tuned"] == data["fine_tuned"] and kept["run_id"] == "r1"


def test_eval_table_reads_the_run_from_the_local_share(tmp_path, tiny_adapter, eval_file):
    project = tmp_path / "proj"
    shutil.copytree(tiny_adapter, project / ".ftk/local/share/runs/r2/adapter")
    result = _ftk(
        ["--local", "--project-dir", str(project), "eval", "r2", "--data", str(eval_file)]
    )
    assert result.exit_code == 0, result.output
    assert "fine-tuned" in result.stderr and "EXACT MATCH" in result.stderr
    assert result.stdout.startswith("exact match ") and "mean loss" in result.stdout


def test_eval_of_a_run_not_here_says_to_download_it(tmp_path, eval_file):
    app = App(project_dir=tmp_path)
    result = _ftk(["eval", "nope", "--data", str(eval_file)], app)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "ftk download nope" in result.stderr


def test_eval_of_a_run_without_adapter_says_why(tmp_path, eval_file):
    (tmp_path / "runs" / "r3").mkdir(parents=True)
    result = _ftk(["eval", "r3", "--data", str(eval_file)], App(project_dir=tmp_path))
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "has no adapter" in result.stderr


def test_eval_with_bad_data_is_a_usage_error(tmp_path, tiny_adapter):
    _downloaded_run(tmp_path, tiny_adapter)
    app = App(project_dir=tmp_path)
    missing = _ftk(["eval", "r1", "--data", "missing.jsonl"], app)
    assert missing.exit_code == ExitCode.USAGE and "not found" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "no answer"}]}\n')
    result = _ftk(["eval", "r1", "--data", str(bad)], app)
    assert result.exit_code == ExitCode.USAGE
    assert "line 1" in result.stderr and "Traceback" not in result.output


def test_eval_of_preference_pairs_in_the_same_table_and_json(tmp_path, tiny_adapter):
    project = tmp_path / "proj"
    _downloaded_run(project, tiny_adapter)
    pairs = project / "pairs.jsonl"
    rows = [
        {"prompt": f"Question {i}? ", "chosen": "Paris.", "rejected": "It depends, honestly."}
        for i in range(3)
    ]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = App(project_dir=project)
    result = _ftk(["eval", "r1", "--data", str(pairs), "--json"], app)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "preference"
    for label in ("base", "fine_tuned"):
        assert 0.0 <= data[label]["preference_accuracy"] <= 1.0
        assert isinstance(data[label]["mean_margin"], float)
        assert data[label]["exact_match"] is None
    result = _ftk(["eval", "r1", "--data", str(pairs)], app)
    assert result.exit_code == 0, result.output
    assert "PREFERENCE" in result.stderr and "EXACT MATCH" in result.stderr
    assert result.stdout.startswith("preference accuracy ") and "mean margin" in result.stdout
