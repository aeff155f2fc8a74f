"""Every verb through CliRunner against a hand-written FakeTarget: results, bad input, hints."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from cli.errors import ExitCode
from cli.targets.aca import pricing
from cli.targets.base import ExecutionStatus, LogNotice
from testkit.fakes.targets import FakeTarget

T4 = "Consumption-GPU-NC8as-T4"

# -- sync -------------------------------------------------------------------------------------


def test_sync_json_shape_and_refusals(project, fake_target, invoke):
    (project / ".env").write_text("HF_TOKEN=hf_secret")
    result = invoke(fake_target, ["sync", "--json"], project)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"uploaded", "deleted", "skipped", "refused", "allowed", "bytes", "swept"}
    assert "finetuning/tiny.yaml" in data["uploaded"] and data["refused"] == [".env"]
    assert "hf_secret" not in result.output

    human = invoke(fake_target, ["sync"], project)
    assert "refused .env" in human.stderr and "'.env' to .ftkallow" in human.stderr
    assert "uploaded 0 files" in human.stderr


def test_sync_dry_run_lists_changes_without_writing(project, fake_target, invoke):
    result = invoke(fake_target, ["sync", "--dry-run"], project)
    assert result.exit_code == 0
    assert "+ data/train.jsonl" in result.stderr and "would upload" in result.stderr
    assert fake_target.share().files == {}


# -- run / resume -----------------------------------------------------------------------------


def test_run_validates_syncs_writes_config_and_starts(project, fake_target, invoke):
    result = invoke(
        fake_target, ["run", "finetuning/tiny.yaml", "--run-id", "r1", "--json"], project
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["run_id"] == "r1" and data["execution"] == "job-1"
    share = fake_target.share().files
    assert share["runs/r1/config.yaml"] == (project / "finetuning/tiny.yaml").read_bytes()
    assert "data/train.jsonl" in share and "training/__init__.py" in share
    assert fake_target.started == [("r1", None)]


def test_run_defaults_to_the_only_config_and_prints_the_execution(
    project, fake_target, invoke, monkeypatch
):
    monkeypatch.chdir(project)
    result = invoke(fake_target, ["run", "--no-sync"], project)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "job-1"
    assert fake_target.started[0][0].startswith("tiny-")
    assert "ftk logs job-1 -f" in result.stderr
    assert "data/train.jsonl" not in fake_target.share().files  # --no-sync


def test_run_with_an_invalid_config_starts_nothing(project, fake_target, invoke):
    (project / "finetuning" / "tiny.yaml").write_text("model:\n  name: model\ndata: {}\n")
    result = invoke(fake_target, ["run", str(project / "finetuning/tiny.yaml")], project)
    assert result.exit_code == ExitCode.USAGE
    assert "not valid" in result.stderr and "train_file" in result.stderr
    assert "nothing was started" in result.stderr
    assert fake_target.started == [] and fake_target.share().files == {}


def test_run_bad_inputs(project, fake_target, invoke):
    missing = invoke(fake_target, ["run", str(project / "nope.yaml")], project)
    assert missing.exit_code == ExitCode.USAGE and "not found" in missing.stderr

    cfg = str(project / "finetuning/tiny.yaml")
    bad_id = invoke(fake_target, ["run", cfg, "--run-id", "../x"], project)
    assert bad_id.exit_code == ExitCode.USAGE and "invalid run id" in bad_id.stderr

    (project / "finetuning" / "other.yaml").write_text("x: 1\n")
    several = invoke(fake_target, ["run"], project)
    assert several.exit_code == ExitCode.USAGE and "several training configs" in several.stderr


def test_run_refuses_an_existing_run_id_and_points_to_resume(project, fake_target, invoke):
    cfg = str(project / "finetuning/tiny.yaml")
    assert invoke(fake_target, ["run", cfg, "--run-id", "r1"], project).exit_code == 0
    again = invoke(fake_target, ["run", cfg, "--run-id", "r1"], project)
    assert again.exit_code == ExitCode.USAGE and "ftk resume r1" in again.stderr


def test_run_warns_when_another_execution_is_active(project, fake_target, invoke):
    fake_target.add_execution("old-1", "r0", ExecutionStatus.QUEUED)
    result = invoke(fake_target, ["run", str(project / "finetuning/tiny.yaml")], project)
    assert result.exit_code == 0
    assert "old-1" in result.stderr and "may wait for GPU capacity" in result.stderr


def test_run_says_output_dir_is_ignored_and_where_the_run_goes(project, fake_target, invoke):
    config = project / "finetuning/tiny.yaml"
    config.write_text(config.read_text() + "output:\n  dir: outputs/shared\n")
    result = invoke(fake_target, ["run", str(config), "--run-id", "r7"], project)
    assert result.exit_code == 0, result.stderr
    assert "output.dir (outputs/shared) is ignored by `ftk run`" in result.stderr
    assert "runs/r7/" in result.stderr


def test_run_follow_exit_code_is_the_outcome(project, fake_target, invoke):
    cfg = str(project / "finetuning/tiny.yaml")
    ok = invoke(fake_target, ["run", cfg, "-f", "--run-id", "a"], project)
    assert ok.exit_code == 0 and "step 1 loss 2.0" in ok.stdout and "ftk download a" in ok.stderr

    fake_target.final_status = ExecutionStatus.FAILED
    failed = invoke(fake_target, ["run", cfg, "-f", "--run-id", "b"], project)
    assert failed.exit_code == ExitCode.FAILED and "ftk logs job-2" in failed.stderr

    fake_target.final_status = ExecutionStatus.RESUMABLE
    resumable = invoke(fake_target, ["run", cfg, "-f", "--run-id", "c"], project)
    assert resumable.exit_code == ExitCode.FAILED and "ftk resume c" in resumable.stderr


def test_run_follow_ctrl_c_leaves_the_job_running(project, fake_target, invoke, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
        yield  # pragma: no cover

    monkeypatch.setattr(fake_target, "stream_logs", interrupted)
    result = invoke(fake_target, ["run", str(project / "finetuning/tiny.yaml"), "-f"], project)
    assert result.exit_code == ExitCode.INTERRUPTED
    assert "keeps running" in result.stderr and "ftk logs job-1 -f" in result.stderr
    assert fake_target.stopped == []


def test_resume(project, fake_target, invoke):
    unknown = invoke(fake_target, ["resume", "nope"], project)
    assert unknown.exit_code == ExitCode.NOT_FOUND and "ftk ps" in unknown.stderr

    share = fake_target.share()
    share.write_bytes("runs/r1/config.yaml", b"x")
    share.write_bytes("runs/r1/status", b"resumable\n")
    result = invoke(fake_target, ["resume", "r1"], project)
    assert result.exit_code == 0 and fake_target.started == [("r1", None)]

    active = invoke(fake_target, ["resume", "r1"], project)
    assert active.exit_code == ExitCode.USAGE and "ftk logs job-1 -f" in active.stderr

    share.write_bytes("runs/r2/config.yaml", b"x")
    share.write_bytes("runs/r2/status", b"succeeded")
    done = invoke(fake_target, ["resume", "r2"], project)
    assert done.exit_code == ExitCode.USAGE and "ftk download r2" in done.stderr


# -- ps / stop / logs -------------------------------------------------------------------------


def test_ps_json_has_duration_and_cost(fake_target, invoke):
    fake_target.add_execution("e1", "r1", ExecutionStatus.SUCCEEDED, minutes=60)
    result = invoke(fake_target, ["ps", "--json"])
    rows = json.loads(result.stdout)
    assert rows[0]["name"] == "e1" and rows[0]["status"] == "succeeded"
    assert rows[0]["duration_s"] == 3600
    # A T4 hour: the GPU plus the replica's 8 vCPU and 56 GiB, all billed per second.
    assert rows[0]["estimated_cost"] == pytest.approx(pricing.price_per_second(T4) * 3600)
    assert 1.5 < rows[0]["estimated_cost"] < 2.5

    table = invoke(fake_target, ["ps"])
    assert "e1" in table.stderr and "1h00m" in table.stderr and "USD" in table.stderr
    assert "GPU + vCPU + memory" in table.stderr and "2026-12-01" in table.stderr


def test_ps_and_logs_show_the_phase_of_a_start(fake_target, invoke):
    """A queued execution waits for a replica; a running one is in the phase its own log lines
    last announced (bootstrap, trainer); a finished one has none."""
    fake_target.add_execution("e1", "r1", ExecutionStatus.SUCCEEDED)
    fake_target.add_execution("e2", "r2", ExecutionStatus.QUEUED)
    fake_target.add_execution("e3", "r3", ExecutionStatus.RUNNING)
    fake_target.logs["e3"] = [
        "2026-12-01T12:00:00Z ftk-phase: preparing-environment (requirements-train.lock)",
        "reusing requirements-train-0123456789abcdef",
        "2026-12-01T12:00:03Z ftk-phase: loading-model (SmolLM2-135M-Instruct)",
    ]
    rows = {r["name"]: r["phase"] for r in json.loads(invoke(fake_target, ["ps", "--json"]).stdout)}
    assert rows == {"e1": None, "e2": "waiting", "e3": "loading-model"}
    table = invoke(fake_target, ["ps"]).stderr
    assert "waiting" in table and "loading" in table, "(the table wraps long labels)"

    logs = invoke(fake_target, ["logs", "e3"])
    assert logs.stdout.splitlines() == fake_target.logs["e3"], "the execution's lines, unchanged"
    assert "phase: preparing environment" in logs.stderr and "phase: loading model" in logs.stderr


def test_ps_unknown_profile_shows_no_cost(invoke):
    target = FakeTarget(gpu_profile="Custom-GPU")
    target.add_execution("e1", "r1", ExecutionStatus.FAILED)
    rows = json.loads(invoke(target, ["ps", "--json"]).stdout)
    assert rows[0]["estimated_cost"] is None


def test_stop(fake_target, invoke):
    none = invoke(fake_target, ["stop"])
    assert none.exit_code == ExitCode.NOT_FOUND and "nothing is running" in none.stderr

    fake_target.add_execution("e1", "r1", ExecutionStatus.RUNNING)
    one = invoke(fake_target, ["stop"])
    assert one.exit_code == 0 and fake_target.stopped == ["e1"] and "ftk resume r1" in one.stderr

    fake_target.add_execution("e2", "r2", ExecutionStatus.QUEUED)
    fake_target.add_execution("e4", "r4", ExecutionStatus.RUNNING)
    two = invoke(fake_target, ["stop"])
    assert two.exit_code == ExitCode.USAGE and "ftk stop NAME" in two.stderr

    fake_target.add_execution("e3", "r3", ExecutionStatus.SUCCEEDED)
    ended = invoke(fake_target, ["stop", "e3"])
    assert ended.exit_code == ExitCode.USAGE and "already ended" in ended.stderr
    assert invoke(fake_target, ["stop", "zzz"]).exit_code == ExitCode.NOT_FOUND


def test_logs(fake_target, invoke):
    none = invoke(fake_target, ["logs"])
    assert none.exit_code == ExitCode.NOT_FOUND and "ftk run" in none.stderr

    fake_target.add_execution("e1", "r1", ExecutionStatus.SUCCEEDED)
    fake_target.add_execution("e2", "r2", ExecutionStatus.RUNNING)
    fake_target.add_execution("e3", "r3", ExecutionStatus.FAILED)
    fake_target.logs = {"e1": ["a1"], "e2": ["b1", "b2", "b3"], "e3": ["c1"]}
    assert invoke(fake_target, ["logs"]).stdout.split() == ["b1", "b2", "b3"]  # the running one
    assert invoke(fake_target, ["logs", "e1"]).stdout.split() == ["a1"]
    assert invoke(fake_target, ["logs", "e2", "--tail", "1"]).stdout.split() == ["b3"]

    since = invoke(fake_target, ["logs", "--since", "1h"])
    assert since.exit_code == ExitCode.USAGE and "no log history" in since.stderr
    bad = invoke(fake_target, ["logs", "--since", "yesterday"])
    assert bad.exit_code == ExitCode.USAGE and "30m" in bad.stderr
    combo = invoke(fake_target, ["logs", "-f", "--system"])
    assert combo.exit_code == ExitCode.USAGE


def test_log_notices_go_to_stderr_and_log_lines_to_stdout(project, fake_target, invoke):
    notice = LogNotice("job-1 is queued: waiting for a GPU replica")
    real = fake_target.stream_logs

    def with_notice(name, **kw):
        yield notice
        yield from real(name, **kw)

    fake_target.stream_logs = with_notice
    cfg = str(project / "finetuning/tiny.yaml")
    ran = invoke(fake_target, ["run", cfg, "-f", "--run-id", "r1"], project)
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.splitlines() == ["job-1", "training r1", "step 1 loss 2.0"]
    assert "waiting for a GPU replica" in ran.stderr
    for args in (["logs", "job-1"], ["logs", "job-1", "-f"]):
        shown = invoke(fake_target, args)
        assert shown.stdout.splitlines() == ["training r1", "step 1 loss 2.0"], args
        assert "waiting for a GPU replica" in shown.stderr


# -- secrets ----------------------------------------------------------------------------------


def test_secret_set_reads_stdin_and_never_echoes(fake_target, invoke):
    result = invoke(fake_target, ["secret", "set", "HF_TOKEN"], input="hf_abc123\n")
    assert result.exit_code == 0, result.output
    assert fake_target.secrets.values == {"HF_TOKEN": "hf_abc123"}
    assert "hf_abc123" not in result.output

    listed = invoke(fake_target, ["secret", "list", "--json"])
    assert json.loads(listed.stdout) == ["HF_TOKEN"] and "hf_abc123" not in listed.output


def test_secret_bad_inputs(fake_target, invoke):
    empty = invoke(fake_target, ["secret", "set", "HF_TOKEN"], input="")
    assert empty.exit_code == ExitCode.USAGE and "stdin" in empty.stderr
    bad = invoke(fake_target, ["secret", "set", "hf-token"], input="x")
    assert bad.exit_code == ExitCode.USAGE and "HF_TOKEN" in bad.stderr
    assert fake_target.secrets.values == {}


def test_secret_rm_needs_yes_without_a_terminal(fake_target, invoke):
    fake_target.secrets.values["HF_TOKEN"] = "v"
    asked = invoke(fake_target, ["secret", "rm", "HF_TOKEN"])
    assert asked.exit_code == ExitCode.USAGE and "--yes" in asked.stderr
    assert invoke(fake_target, ["secret", "rm", "HF_TOKEN", "--yes"]).exit_code == 0
    assert fake_target.secrets.values == {}
    gone = invoke(fake_target, ["secret", "rm", "HF_TOKEN", "--yes"])
    assert gone.exit_code == ExitCode.NOT_FOUND


# -- download / outputs -----------------------------------------------------------------------


def _finished_run(target: FakeTarget, run: str = "r1") -> None:
    share = target.share()
    config = b'{"base_model_name_or_path": "b"}'
    share.write_bytes(f"runs/{run}/adapter/adapter_config.json", config)
    share.write_bytes(f"runs/{run}/adapter/adapter_model.safetensors", b"w" * 100)
    share.write_bytes(f"runs/{run}/metrics.jsonl", b"{}\n")
    share.write_bytes(f"runs/{run}/summary.json", b"{}")
    share.write_bytes(f"runs/{run}/status", b"succeeded")
    share.write_bytes(f"runs/{run}/checkpoints/checkpoint-2/optimizer.pt", b"big")


def test_download_fetches_results_and_skips_identical_files(tmp_path, fake_target, invoke):
    _finished_run(fake_target)
    result = invoke(fake_target, ["download", "r1", "--json"], tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sorted(data["downloaded"]) == [
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
        "metrics.jsonl",
        "status",
        "summary.json",
    ]
    assert (tmp_path / "runs/r1/adapter/adapter_model.safetensors").read_bytes() == b"w" * 100
    assert not (tmp_path / "runs/r1/checkpoints").exists()

    fake_target.share().write_bytes("runs/r1/metrics.jsonl", b"[]\n")  # same size, new content
    again = json.loads(invoke(fake_target, ["download", "r1", "--json"], tmp_path).stdout)
    assert again["downloaded"] == ["metrics.jsonl"] and len(again["skipped"]) == 4

    to = invoke(fake_target, ["download", "r1", "--to", str(tmp_path / "elsewhere")], tmp_path)
    assert to.exit_code == 0 and (tmp_path / "elsewhere/summary.json").exists()


def test_download_never_keeps_another_runs_weights_of_the_same_size(tmp_path, fake_target, invoke):
    big = (1 << 20) + 10  # over the old "compare by size" threshold, like real adapter weights
    for run, byte in (("r1", b"1"), ("r2", b"2")):
        _finished_run(fake_target, run)
        fake_target.share().write_bytes(f"runs/{run}/adapter/adapter_model.safetensors", byte * big)
    model = tmp_path / "model"
    assert invoke(fake_target, ["download", "r1", "--to", str(model)], tmp_path).exit_code == 0
    second = invoke(fake_target, ["download", "r2", "--to", str(model), "--json"], tmp_path)
    assert second.exit_code == 0, second.output
    weights = model / "adapter/adapter_model.safetensors"
    assert weights.read_bytes() == b"2" * big  # r2's weights, not r1's
    assert "adapter/adapter_model.safetensors" in json.loads(second.stdout)["downloaded"]
    again = json.loads(
        invoke(fake_target, ["download", "r2", "--to", str(model), "--json"], tmp_path).stdout
    )
    assert "adapter/adapter_model.safetensors" in again["skipped"]  # same content: untouched


def test_download_passes_over_a_dangling_symlink_in_the_run_folder(tmp_path, invoke):
    from cli.targets.local import LocalTarget

    target = LocalTarget(tmp_path / "project", model_cache=tmp_path / "cache")
    _finished_run(target)
    run = target.share().local_root / "runs/r1"
    (run / "adapter/stale_link").symlink_to(tmp_path / "gone")
    (run / "summary.json").unlink()
    (run / "summary.json").symlink_to(tmp_path / "gone-too")
    result = invoke(target, ["download", "r1", "--to", str(tmp_path / "out"), "--json"], tmp_path)
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)["downloaded"]
    assert "adapter/adapter_model.safetensors" in got and "summary.json" not in got
    assert not (tmp_path / "out/adapter/stale_link").exists()


@pytest.mark.parametrize("bad", ["r1\n", "r1\r", "r1\n\n", "\nr1", "r1/../x", "../r1"])
def test_run_ids_sweep_names_and_downloads_match_the_whole_id(project, fake_target, invoke, bad):
    for args in (
        ["run", "finetuning/tiny.yaml", "--run-id", bad, "--no-sync"],
        ["sweep", "finetuning/tiny.yaml", "--set", "train.max_steps=1,2", "--name", bad],
        ["download", bad],
    ):
        result = invoke(fake_target, args, project)
        assert result.exit_code == 2, (args, result.output)
        assert "invalid run id" in result.stderr
    assert fake_target.started == [] and not list(fake_target.share().list_files("runs/"))


def test_checkpoint_and_hub_names_match_whole_names(tmp_path):
    from training.rundir import CHECKPOINT
    from training.spec.paths import classify_model

    assert CHECKPOINT.fullmatch("checkpoint-12\n") is None
    with pytest.raises(ValueError, match="neither"):
        classify_model("org/name\n", tmp_path)


def test_download_brings_the_mlflow_store_so_mlflow_ui_can_read_it(tmp_path, fake_target, invoke):
    _finished_run(fake_target)
    share = fake_target.share()
    share.write_bytes("runs/r1/tracking.json", b'{"backend": "mlflow", "mlflow_run_id": "abc"}')
    share.write_bytes("runs/r1/mlruns/1/abc/metrics/loss", b"1 0.5 1\n")
    share.write_bytes("runs/r1/mlrunsx", b"not the store")
    result = invoke(fake_target, ["download", "r1", "--json"], tmp_path)
    assert result.exit_code == 0, result.output
    downloaded = json.loads(result.stdout)["downloaded"]
    assert {"mlruns/1/abc/metrics/loss", "tracking.json"} <= set(downloaded)
    assert "mlrunsx" not in downloaded and not any("checkpoints" in p for p in downloaded)


def test_download_bad_inputs(tmp_path, fake_target, invoke):
    unknown = invoke(fake_target, ["download", "nope"], tmp_path)
    assert unknown.exit_code == ExitCode.NOT_FOUND and "ftk ps" in unknown.stderr

    fake_target.share().write_bytes("runs/r2/config.yaml", b"x")
    fake_target.share().write_bytes("runs/r2/status", b"resumable")
    no_adapter = invoke(fake_target, ["download", "r2"], tmp_path)
    assert no_adapter.exit_code == ExitCode.NOT_FOUND
    assert "no adapter yet (status: resumable)" in no_adapter.stderr
    assert "ftk resume r2" in no_adapter.stderr


def test_outputs_never_shows_secret_keys(fake_target, invoke):
    data = json.loads(invoke(fake_target, ["outputs", "--json"]).stdout)
    assert data["target"] == "fake" and data["FILE_SHARE_NAME"] == "share"
    assert "ACA_APP_API_KEY" not in data


# -- deploy / endpoint / chat -----------------------------------------------------------------


def test_deploy_defaults_to_the_newest_succeeded_run(fake_target, invoke):
    _finished_run(fake_target, "r1")
    fake_target.add_execution("e1", "r1", ExecutionStatus.SUCCEEDED)
    fake_target.add_execution("e2", "r2", ExecutionStatus.FAILED)
    result = invoke(fake_target, ["deploy"])
    assert result.exit_code == 0, result.output
    assert fake_target.deployed == [("r1", "b")]
    assert result.stdout.strip() == fake_target.ep.url

    base = invoke(fake_target, ["deploy", "r1", "--base-only", "--json"])
    assert fake_target.deployed[-1] == (None, "b")
    assert "api_key" not in json.loads(base.stdout)


def test_deploy_bad_inputs(fake_target, invoke):
    nothing = invoke(fake_target, ["deploy"])
    assert nothing.exit_code == ExitCode.NOT_FOUND and "--base-only" in nothing.stderr

    fake_target.share().write_bytes("runs/r9/status", b"running")
    unfinished = invoke(fake_target, ["deploy", "r9"])
    assert unfinished.exit_code == ExitCode.NOT_FOUND and "status: running" in unfinished.stderr

    assert invoke(fake_target, ["deploy", "--base-only", "--base", "org/m"]).exit_code == 0
    assert fake_target.deployed == [(None, "org/m")]


def _succeeded_run(target, run: str, base: str = "org/base") -> None:
    config = json.dumps({"base_model_name_or_path": base}).encode()
    target.share().write_bytes(f"runs/{run}/adapter/adapter_config.json", config)
    target.share().write_bytes(f"runs/{run}/status", b"succeeded")


def test_deploy_serves_several_runs_and_add_keeps_what_is_served(fake_target, invoke):
    for run in ("r1", "r2", "r3"):
        _succeeded_run(fake_target, run)
    both = invoke(fake_target, ["deploy", "r1", "r2", "--no-sync", "--wait", "0", "--json"])
    assert both.exit_code == 0, both.output
    assert fake_target.deployed[-1] == ("r1", "org/base")
    assert fake_target.deployed_more[-1] == ("r2",)
    assert json.loads(both.stdout)["models"] == ["r1", "r2"]

    added = invoke(fake_target, ["deploy", "--add", "r3", "--no-sync", "--wait", "0"])
    assert added.exit_code == 0, added.output
    assert fake_target.deployed[-1] == ("r1", "org/base")
    assert fake_target.deployed_more[-1] == ("r2", "r3")
    listed = invoke(fake_target, ["endpoint", "--wait", "0"])
    assert "r1, r2, r3" in listed.stderr  # `ftk endpoint` lists every run served

    _succeeded_run(fake_target, "other", base="org/another")
    mixed = invoke(fake_target, ["deploy", "r1", "other", "--no-sync", "--wait", "0"])
    assert mixed.exit_code == ExitCode.USAGE and "one base model" in mixed.stderr
    assert fake_target.deployed_more[-1] == ("r2", "r3")  # nothing changed


def test_endpoint_shows_the_key_only_when_asked(fake_target, invoke):
    data = json.loads(invoke(fake_target, ["endpoint", "--json"]).stdout)
    assert data == {
        "url": "http://127.0.0.1:9",
        "openai_base_url": "http://127.0.0.1:9/v1",
        "ready": True,
        "model": "m",
        "models": [],
    }
    plain = invoke(fake_target, ["endpoint"])
    assert "k-secret" not in plain.output
    shown = invoke(fake_target, ["endpoint", "--show-key"])
    assert "k-secret" in shown.stdout


def test_chat_with_an_endpoint_that_is_not_ready(fake_target, invoke):
    fake_target.ep = replace(fake_target.ep, ready=False)
    result = invoke(fake_target, ["chat", "hi"])
    assert result.exit_code == ExitCode.UNAVAILABLE and "ftk deploy" in result.stderr


def test_chat_with_an_unreachable_endpoint(fake_target, invoke):
    fake_target.ep = replace(fake_target.ep, url="http://127.0.0.1:9")  # discard port: refused
    result = invoke(fake_target, ["chat", "hi"])
    assert result.exit_code == ExitCode.UNAVAILABLE and "ftk endpoint" in result.stderr


def test_secret_apply_is_refused_where_the_target_cannot_apply(fake_target, invoke):
    result = invoke(fake_target, ["secret", "set", "HF_TOKEN", "--apply"], input="v\n")
    assert result.exit_code == ExitCode.USAGE and "Pulumi stack" in result.stderr
    assert fake_target.secrets.values == {}  # nothing stored when the flag is wrong


def test_secret_apply_is_passed_to_a_stack_target(fake_target, invoke):
    fake_target.secrets.can_apply = True
    result = invoke(fake_target, ["secret", "set", "HF_TOKEN", "--apply"], input="v\n")
    assert result.exit_code == 0 and "HF_TOKEN stored and applied" in result.stderr
    assert fake_target.secrets.applied == ["HF_TOKEN"]
    removed = invoke(fake_target, ["secret", "rm", "HF_TOKEN", "--yes", "--apply"])
    assert removed.exit_code == 0 and fake_target.secrets.values == {}


def test_deploy_syncs_the_inference_code_first(project, fake_target, invoke):
    (project / "inference").mkdir()
    (project / "inference" / "app.py").write_text("")
    _finished_run(fake_target)
    assert invoke(fake_target, ["deploy", "r1"], project).exit_code == 0
    assert "inference/app.py" in fake_target.share().files
    invoke(fake_target, ["deploy", "r1", "--no-sync"], project)
    assert fake_target.deployed == [("r1", "b"), ("r1", "b")]


def test_errors_under_json_are_also_a_json_object_on_stdout(tmp_path, fake_target, invoke):
    result = invoke(fake_target, ["download", "nope", "--json"], tmp_path)
    assert result.exit_code == ExitCode.NOT_FOUND
    error = json.loads(result.stdout)
    assert error["exit_code"] == 3 and "no run named nope" in error["error"]
    assert "ftk ps" in error["hint"]
    assert "no run named nope" in result.stderr
    plain = invoke(fake_target, ["download", "nope"], tmp_path)
    assert plain.stdout == ""


def test_eval_errors_under_json_are_a_json_object_too(tmp_path, fake_target, invoke):
    (tmp_path / "held_out.jsonl").write_text("{}\n")
    args = ["eval", "nope", "--data", "held_out.jsonl", "--json"]
    result = invoke(fake_target, args, tmp_path)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert json.loads(result.stdout)["kind"] == "NotFoundError"


def test_logs_of_a_queued_execution_say_it_waits_for_a_gpu(fake_target, invoke):
    fake_target.add_execution("e1", "r1", ExecutionStatus.QUEUED)
    result = invoke(fake_target, ["logs"])
    assert result.exit_code == 0 and "waiting for a GPU replica" in result.stderr
    followed = invoke(fake_target, ["logs", "-f"])
    assert "waiting for a GPU replica" in followed.stderr and followed.exit_code == 0
