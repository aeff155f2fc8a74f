"""`ftk publish RUN --repo OWNER/NAME`: through huggingface_hub's real client against a loopback
stand-in of the Hub's HTTP API (HF_ENDPOINT): the repo is created, then updated; the adapter, the
loss plot and a model card generated from the run arrive; the token is never in argv, output or
the card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.errors import ExitCode
from cli.main import cli
from testkit.fakes.hub import FakeHub

TOKEN = "hf_" + "Zq8" * 12  # looks like a token; must appear nowhere but the Authorization header


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub.constants

    server = FakeHub(TOKEN).start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    # The tests run offline (tests/conftest.py); this stand-in on 127.0.0.1 is the one Hub here.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    yield server
    server.stop()


def _run_with_results(project: Path, adapter: Path, run_id: str = "r1") -> Path:
    """What `ftk download` leaves, plus the eval scores `ftk eval` keeps beside the run."""
    run = project / "runs" / run_id
    shutil.copytree(adapter, run / "adapter")
    (project / "data").mkdir(parents=True)
    (project / "data/train.jsonl").write_text('{"text": "hello"}\n' * 40)
    (run / "config.yaml").write_text(
        "model:\n  name: SmolLM2-135M-Instruct\ndata:\n  train_file: data/train.jsonl\n"
        "  eval_split: 0.1\ntrain:\n  learning_rate: 0.0002\n"
    )
    summary = {
        "steps": 20,
        "epochs": 1.0,
        "train_examples": 36,
        "eval_examples": 4,
        "train_loss": 0.4321,
        "eval_loss": 0.5,
        "versions": {"transformers": "5.24.0", "peft": "0.18.0", "trl": "1.2.0"},
    }
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "loss.png").write_bytes(b"\x89PNG fake plot")
    (run / "eval.json").write_text(
        json.dumps(
            {
                "data_file": str(project / "data/eval.jsonl"),
                "base": {"label": "base", "exact_match": 0.1, "mean_loss": 2.5},
                "fine_tuned": {"label": "fine-tuned", "exact_match": 0.9, "mean_loss": 0.3},
            }
        )
    )
    return run


def _ftk(args: list[str], app: App):
    return CliRunner().invoke(cli, args, obj=app, catch_exceptions=False)


def test_publish_creates_the_repo_then_updates_it_with_adapter_plot_and_card(
    hub, tmp_path, tiny_adapter
):
    project = tmp_path / "proj"
    _run_with_results(project, tiny_adapter)
    app = App(project)

    first = _ftk(["publish", "r1", "--repo", "acme/support-bot", "--private", "--json"], app)

    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["repo_id"] == "acme/support-bot" and data["url"] == f"{hub.url}/acme/support-bot"
    repo = hub.repos["acme/support-bot"]
    assert repo.private
    assert {"adapter_config.json", "adapter_model.safetensors", "loss.png", "README.md"} <= set(
        repo.files
    )
    assert (
        repo.files["adapter_model.safetensors"]
        == (tiny_adapter / "adapter_model.safetensors").read_bytes()
    )
    card = repo.files["README.md"].decode()
    from huggingface_hub import ModelCard

    meta = ModelCard(card).data
    # the adapter records a folder; the run's config names the catalog model, i.e. its Hub id
    assert meta.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert meta.library_name == "peft"
    assert "ftk" in meta.tags
    assert "`data/train.jsonl` (36 examples, 720 bytes)" in card
    assert "10% of the training file held out" in card
    assert "learning_rate: 0.0002" in card  # the training config
    assert "| final train loss | 0.4321 |" in card
    assert "| fine-tuned | 90% | 0.3 |" in card and "`eval.jsonl`" in card
    assert "![training loss](loss.png)" in card
    assert "- transformers: 5.24.0" in card

    again = _ftk(["publish", "r1", "--repo", "acme/support-bot"], app)  # exists: updated
    assert again.exit_code == 0, again.output
    assert len(repo.commits) == 2 and len(hub.repos) == 1

    for result in (first, again):
        assert TOKEN not in result.output
    assert TOKEN not in card
    auth = {h.get("authorization") for _, _, h in hub.requests}
    assert auth == {f"Bearer {TOKEN}"}  # the token travels in the header, and only there


def test_publish_merged_pushes_weights_that_load_without_peft(hub, tmp_path, tiny_adapter):
    project = tmp_path / "proj"
    run = _run_with_results(project, tiny_adapter)
    (run / "eval.json").unlink()

    result = _ftk(["publish", "r1", "--repo", "acme/merged", "--merged"], App(project))

    assert result.exit_code == 0, result.output
    repo = hub.repos["acme/merged"]
    assert "model.safetensors" in repo.files and "adapter_config.json" not in repo.files
    assert "tokenizer.json" in repo.files and "export.json" not in repo.files
    card = repo.files["README.md"].decode()
    assert "library_name: transformers" in card and "## Evaluation" not in card


def test_publish_without_a_token_or_with_a_refused_one_says_so(
    hub, tmp_path, tiny_adapter, monkeypatch
):
    project = tmp_path / "proj"
    _run_with_results(project, tiny_adapter)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no stored login either
    monkeypatch.delenv("HF_TOKEN")
    none = _ftk(["publish", "r1", "--repo", "acme/x"], App(project))
    assert none.exit_code == ExitCode.AUTH and "HF_TOKEN" in none.stderr
    assert hub.requests == []

    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_0000000000")
    wrong = _ftk(["publish", "r1", "--repo", "acme/x"], App(project))
    assert wrong.exit_code == ExitCode.AUTH and "refused the token" in wrong.stderr
    assert "hf_wrong_token" not in wrong.output


def test_publish_refuses_a_repo_id_that_is_not_owner_slash_name(hub, tmp_path):
    result = _ftk(["publish", "r1", "--repo", "no-owner"], App(tmp_path))
    assert result.exit_code == ExitCode.USAGE and "not a Hub repository id" in result.stderr


def test_the_token_is_never_a_flag():
    result = CliRunner().invoke(cli, ["publish", "--help"])
    assert result.exit_code == 0 and "--token" not in result.output
