"""A missing Azure login is one error line and a hint on stderr, not the SDK's dump (issue 10).

Run in a subprocess: under pytest a logging handler is always installed, which hides the very
thing tested (Python's last-resort handler printing SDK warnings on stderr).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging, sys
from azure.core.exceptions import ClientAuthenticationError
from cli.targets.azure import clients

MESSAGE = (
    "DefaultAzureCredential failed to retrieve a token from the included credentials.\\n"
    "Attempted credentials:\\n\\tEnvironmentCredential: authentication unavailable.\\n"
    "To mitigate this issue, please refer to the troubleshooting guidelines."
)

class LikeDefaultAzureCredential:
    # What azure.identity's ChainedTokenCredential does when every source fails: log the
    # whole list as a warning, then raise it.
    def get_token(self, *scopes, **kwargs):
        logging.getLogger("azure.identity._credentials.chained").warning(MESSAGE)
        raise ClientAuthenticationError(message=MESSAGE)

clients.default_credential = LikeDefaultAzureCredential
from cli.main import main
sys.argv = ["ftk", *sys.argv[1:]]
main()
"""


def _ftk(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    infra = tmp_path / "finetuning.config.json"
    infra.write_text(
        json.dumps({"SUBSCRIPTION_ID": "s", "RESOURCE_GROUP_NAME": "rg", "ACA_JOB_NAME": "j"})
    )
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *args, "--infra", str(infra), "ps"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_login_is_one_line_and_a_hint(tmp_path: Path):
    done = _ftk(tmp_path)
    assert done.returncode == 4
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("✗ Azure credentials are missing or expired")
    assert "az login" in lines[1] and "ftk -v" in lines[1]
    assert "Attempted credentials" not in done.stderr + done.stdout


def test_verbose_shows_what_each_credential_said(tmp_path: Path):
    done = _ftk(tmp_path, "-v")
    assert done.returncode == 4
    assert "Attempted credentials" in done.stderr
