"""The root group: every command's help, a light `--help`, error rendering and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.errors import ExitCode
from cli.main import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]


def all_command_paths() -> list[list[str]]:
    paths = []
    for name in COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        paths.append([name])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub])
    return paths


@pytest.mark.parametrize("path", all_command_paths(), ids=" ".join)
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output and path[-1] in result.output


def test_root_help_imports_no_heavy_module():
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "from cli.main import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='ftk')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'azure', 'pulumi', 'transformers', 'openai', 'httpx', 'training'})\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out
    for name in COMMANDS:
        assert name in out


def test_local_with_infra_is_a_usage_error(tmp_path):
    infra = tmp_path / "finetuning.config.json"
    infra.write_text("{}")
    result = CliRunner().invoke(cli, ["--local", "--infra", str(infra), "ps"])
    assert result.exit_code == ExitCode.USAGE
    assert "cannot be combined" in result.output


def test_missing_infra_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["--infra", str(tmp_path / "nope.json"), "ps"])
    assert result.exit_code == ExitCode.USAGE
    assert "no such file" in result.output


class Boom:
    kind = "fake"

    def executions(self):
        raise RuntimeError("kaboom")

    def describe(self):
        return {}


def test_unexpected_errors_are_one_line_unless_debug(tmp_path, monkeypatch):
    monkeypatch.delenv("FTK_DEBUG", raising=False)
    result = CliRunner().invoke(cli, ["ps"], obj=App.with_target(Boom(), tmp_path))
    assert result.exit_code == ExitCode.FAILED
    assert "unexpected error: RuntimeError: kaboom" in result.output
    assert "--debug" in result.output and "Traceback" not in result.output

    monkeypatch.setenv("FTK_DEBUG", "1")
    result = CliRunner().invoke(cli, ["ps"], obj=App.with_target(Boom(), tmp_path))
    assert isinstance(result.exception, RuntimeError)


def test_local_target_is_resolved_lazily_from_the_flag(tmp_path):
    result = CliRunner().invoke(cli, ["--local", "--project-dir", str(tmp_path), "ps", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "[]"
    assert not (tmp_path / ".ftk" / "local" / "executions").exists()


def test_run_validation_imports_no_torch(project):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cli.ops.runs import validate_config\n"
        f"print(validate_config(Path({str(project / 'finetuning/tiny.yaml')!r}), "
        f"Path({str(project)!r})))\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "TORCH False" in out
