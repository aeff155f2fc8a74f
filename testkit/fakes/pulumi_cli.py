"""A fake `pulumi` executable on PATH that records each call's argv and stdin (and can fail).

calls = fake_pulumi  # the fixture: a PulumiCalls
... run something that calls `pulumi config set` ...
assert calls.all()[0]["stdin"] == "the value"
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = """#!{python}
import json, os, sys
data = sys.stdin.read() if not sys.stdin.isatty() else None
with open(os.environ["FAKE_PULUMI_LOG"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps({{"argv": sys.argv, "stdin": data}}) + "\\n")
fail = os.environ.get("FAKE_PULUMI_FAIL")
if fail:
    sys.stderr.write(fail + "\\n")
    sys.exit(255)
"""


class PulumiCalls:
    def __init__(self, log: Path, monkeypatch: pytest.MonkeyPatch):
        self.log = log
        self._monkeypatch = monkeypatch

    def all(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def fail_with(self, stderr: str) -> None:
        self._monkeypatch.setenv("FAKE_PULUMI_FAIL", stderr)


@pytest.fixture
def fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PulumiCalls:
    folder = tmp_path / "fake-pulumi-bin"
    folder.mkdir()
    exe = folder / "pulumi"
    exe.write_text(SCRIPT.format(python=sys.executable))
    exe.chmod(0o755)
    log = tmp_path / "pulumi-calls.jsonl"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    monkeypatch.delenv("FAKE_PULUMI_FAIL", raising=False)
    return PulumiCalls(log, monkeypatch)
