"""Settings from flags and env, adapter naming, and the CLI's one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.models import AdapterSpec, ModelError, parse_adapters
from inference.settings import ServerSettings


def test_env_defaults_follow_the_contract(monkeypatch):
    monkeypatch.setenv("FTK_BASE_MODEL", "microsoft/Phi-3-mini-4k-instruct")
    monkeypatch.setenv("FTK_ADAPTER", "a=/mount/runs/a/adapter, /mount/runs/b/adapter")
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("FTK_MODEL_CACHE", "/mount/model-cache")
    monkeypatch.setenv("FTK_API_KEY", "s3cret")
    settings = ServerSettings()
    assert settings.base == "microsoft/Phi-3-mini-4k-instruct"
    assert settings.adapter == ["a=/mount/runs/a/adapter", "/mount/runs/b/adapter"]
    assert settings.port == 9001
    assert settings.model_cache == Path("/mount/model-cache")
    assert settings.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_flags_win_over_env_and_api_key_env_names_the_variable(monkeypatch):
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("FTK_API_KEY", "ignored")
    monkeypatch.setenv("MY_KEY", "mine")
    settings = ServerSettings(port=8123, api_key_env="MY_KEY", adapter=["x=/a", "/b/adapter"])
    assert settings.port == 8123
    assert settings.api_key.get_secret_value() == "mine"
    assert settings.adapter == ["x=/a", "/b/adapter"]


def test_no_key_means_no_authentication(monkeypatch):
    monkeypatch.delenv("FTK_API_KEY", raising=False)
    assert ServerSettings().api_key is None
    monkeypatch.setenv("FTK_API_KEY", "")
    assert ServerSettings().api_key is None


def test_adapter_names_default_to_the_run_id(tmp_path):
    assert AdapterSpec.parse("/mount/runs/run-42/adapter").name == "run-42"
    assert AdapterSpec.parse("/exports/my-lora").name == "my-lora"
    assert AdapterSpec.parse("support=/mount/runs/run-42/adapter") == AdapterSpec(
        "support", Path("/mount/runs/run-42/adapter")
    )


@pytest.mark.parametrize(
    "spec",
    [
        "/mount/runs/run-42/adapter",
        "/mount/runs/run-42/adapter/",
        "/exports/my-lora",
        "/adapter",
        "support=/mount/runs/run-42/adapter",
        "support\n=/mount/runs/run-42/adapter",
        "bad name=/mount/runs/run-42/adapter",
        "r9=/mount/runs/other/adapter",
    ],
)
def test_the_server_and_the_cli_name_an_adapter_alike(spec):
    """One rule (contract.adapters): the names `ftk endpoint` lists from a deployed app's
    FTK_ADAPTER are the names the server serves, for what `ftk deploy` writes and for a bare
    path an older ftk or a user wrote."""
    from contract.adapters import adapter_names

    assert adapter_names(spec) == (AdapterSpec.parse(spec).name,)


def test_deploy_writes_each_name_so_no_server_derives_it():
    from contract.adapters import adapter_names, adapter_value

    value = adapter_value([("r1", "/mount/runs/r1/adapter"), ("r2", "/mount/runs/r2/adapter")])
    assert value == "r1=/mount/runs/r1/adapter,r2=/mount/runs/r2/adapter"
    assert adapter_names(value) == ("r1", "r2") and adapter_value([]) is None
    with pytest.raises(ValueError, match="not a model name"):
        adapter_value([("bad name", "/x")])


def test_an_adapter_name_with_a_trailing_newline_is_not_a_name():
    spec = AdapterSpec.parse("support\n=/mount/runs/run-42/adapter")
    assert spec.name != "support\n" and "\n" not in spec.name  # a path, named by its folder


def test_adapters_must_exist_and_have_distinct_names(tmp_path, adapter_dir):
    with pytest.raises(ModelError, match=r"adapter_config\.json"):
        parse_adapters([str(tmp_path)])
    with pytest.raises(ModelError, match="unique"):
        parse_adapters([f"x={adapter_dir}", f"x={adapter_dir}"])
    assert [a.name for a in parse_adapters([str(adapter_dir), f"v2={adapter_dir}"])] == [
        "run-1",
        "v2",
    ]


def test_serve_help_lists_every_contract_flag(capsys):
    from inference.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--base",
        "--adapter",
        "--host",
        "--port",
        "--api-key-env",
        "--model-cache",
        "--load-in-4bit",
        "--max-queue",
        "--no-ui",
    ):
        assert flag in text


def test_serve_without_a_base_model_is_one_clear_error(monkeypatch, capsys):
    from inference.cli import main

    monkeypatch.delenv("FTK_BASE_MODEL", raising=False)
    assert main(["serve", "--port", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: no base model: pass --base MODEL or set FTK_BASE_MODEL"
    )


def test_bad_flag_value_is_one_clear_error(capsys):
    from inference.cli import main

    assert main(["serve", "--base", "x", "--port", "70000"]) == 2
    assert capsys.readouterr().err.startswith("error: port: ")
