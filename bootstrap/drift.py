"""Drift check: what would a fresh `pip install ftk` get today, beyond the lock, and does it work?

    python -m bootstrap.drift                  # throwaway venv, newest versions the ranges allow
    python -m bootstrap.drift --keep /tmp/d    # keep the venv (rerun a failing test in it)

A developer's tool, run after `python -m bootstrap.refresh` and whenever a range in
pyproject.toml changes. It builds a virtual environment from pyproject.toml's ranges alone (no
`-c requirements.lock`; torch at the CPU build the README installs), prints every package whose
newest allowed version differs from `requirements.lock`, runs a fast smoke subset of the tests in
that environment (the CLI imports and `--help`, the chat client against the local server and
against an Azure-shaped endpoint, one tiny training run, the stack under Pulumi's mocks) and ends
with one line: what moved and what broke. Exit 0: nothing broke (moves alone are fine: the lock
can be refreshed); exit 1: something broke under the newest versions, so either fix the code or
narrow the range in pyproject.toml before users meet it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bootstrap.refresh import LOCAL_TORCH, PROJECT_LOCK
from contract.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[1]

# Fast tests that touch every third-party surface ftk leans on (about a minute on two cores).
SMOKE = (
    "tests/cli/test_main.py",
    "tests/cli/test_azure_chat.py::test_stack_chat_streams_with_the_secret_output_key",
    "tests/cli/test_local.py::test_deploy_endpoint_and_chat_through_openai",
    "tests/training/test_train.py::test_each_format_trains_and_the_adapter_loads",
    "tests/stacks/test_resources.py",
    "tests/bootstrap/test_lock.py",
)

OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DO_NOT_TRACK": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


# The project itself and the installer's own tools: never in the lock.
TOOLS = {"ftk", "pip", "setuptools", "wheel"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(text: str) -> dict[str, set[str]]:
    """name -> the versions `requirements.lock` pins (two where markers split a package)."""
    pins: dict[str, set[str]] = {}
    for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", text, flags=re.MULTILINE):
        pins.setdefault(_normal(name), set()).add(version)
    return pins


def moved(locked: dict[str, set[str]], installed: dict[str, str]) -> list[str]:
    """One line per package whose installed version is not what the lock pins."""
    lines = []
    for name, version in sorted(installed.items()):
        if name in TOOLS:
            continue
        pinned = locked.get(name)
        if pinned is None:
            lines.append(f"{name} {version} (not in the lock)")
        elif version.split("+")[0] not in pinned:
            lines.append(f"{name} {' / '.join(sorted(pinned))} -> {version}")
    return lines


def _run(cmd: list[str], **kwargs: object) -> None:
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def build(venv: Path, python: str) -> Path:
    """A venv with the newest versions pyproject.toml's ranges admit; returns its python."""
    _run([python, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "-q"]
    _run([*pip, "-U", "pip"])
    _run([*pip, f"torch=={LOCAL_TORCH}"])
    _run([*pip, "--upgrade-strategy", "eager", "-e", f"{ROOT}[dev]"])
    return py


def installed(py: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(py), "-m", "pip", "list", "--format=json"], check=True, capture_output=True, text=True
    ).stdout
    return {_normal(p["name"]): p["version"] for p in json.loads(out)}


def smoke(py: Path) -> tuple[int, str]:
    """Run the smoke subset in the drift venv; (exit code, the failing tests' lines)."""
    env = {**os.environ, **OFFLINE}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *SMOKE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    print(result.stdout[-6000:], result.stderr[-2000:], sep="\n", file=sys.stderr)
    failed = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return result.returncode, "\n".join(failed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap.drift", description=__doc__)
    parser.add_argument("--keep", type=Path, default=None, help="build the venv here and keep it")
    parser.add_argument("--python", default="python3.11", help="the interpreter for the venv")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ftk-drift-") as tmp:
        venv = args.keep or Path(tmp) / "venv"
        py = build(venv, args.python)
        changes = moved(locked_versions((ROOT / PROJECT_LOCK).read_text()), installed(py))
        code, failed = smoke(py)
    print(f"\nmoved beyond {PROJECT_LOCK} ({len(changes)}):")
    for line in changes:
        print(f"  {line}")
    if code == 0:
        print(f"drift: {len(changes)} moved, smoke tests passed under the newest versions")
        return ExitCode.OK
    print(f"drift: {len(changes)} moved, smoke tests FAILED under the newest versions:\n{failed}")
    return ExitCode.FAILED


if __name__ == "__main__":
    sys.exit(main())
