"""A run's folder on the share, read the same way by every target and verb."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.app import App
from cli.main import cli
from cli.targets import runs_on_share as runs
from testkit.fakes.targets import FakeTarget, MemoryShare


def test_status_adapter_and_base_model_of_a_run():
    share = MemoryShare()
    assert runs.run_status(share, "r1") is None and not runs.has_config(share, "r1")
    share.write_bytes("runs/r1/config.yaml", b"model: {}\n")
    share.write_bytes("runs/r1/status", b"resumable\n")
    assert runs.has_config(share, "r1") and runs.run_status(share, "r1") == "resumable"
    assert runs.is_resumable(share, "r1") and not runs.has_adapter(share, "r1")
    assert runs.base_model(share, "r1") is None

    config = {"base_model_name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"}
    share.write_bytes("runs/r1/adapter/adapter_config.json", json.dumps(config).encode())
    share.write_bytes("runs/r1/status", b"succeeded")
    assert runs.has_adapter(share, "r1") and not runs.is_resumable(share, "r1")
    assert runs.base_model(share, "r1") == "Qwen/Qwen2.5-0.5B-Instruct"

    share.write_bytes("runs/r1/adapter/adapter_config.json", b"{not json")
    assert runs.base_model(share, "r1") is None  # unreadable reads as unknown, not a crash


def test_the_app_closes_the_target_it_built(tmp_path, monkeypatch):
    built = FakeTarget()
    monkeypatch.setattr(App, "_resolve", lambda self: built)
    result = CliRunner().invoke(cli, ["--project-dir", str(tmp_path), "ps", "--json"])
    assert result.exit_code == 0, result.output
    assert built.closed == 1


def test_a_target_given_by_the_caller_stays_open(tmp_path):
    given = FakeTarget()
    result = CliRunner().invoke(cli, ["ps", "--json"], obj=App.with_target(given, tmp_path))
    assert result.exit_code == 0 and given.closed == 0
