"""The local share keeps file modes."""

from __future__ import annotations

import os
import stat

import pytest

from cli.sync.engine import sync
from cli.targets.local_share import LocalShare


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755, 0o644, 0o400])
def test_upload_keeps_the_file_mode_whatever_the_umask(tmp_path, mode):
    src = tmp_path / "src"
    src.write_bytes(b"secret-ish")
    src.chmod(mode)
    old = os.umask(0o022)
    try:
        LocalShare(tmp_path / "share").upload_file(src, "d/f")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "share" / "d" / "f").stat().st_mode) == mode


def test_sync_keeps_a_0600_file_0600_on_the_share(tmp_path):
    root = tmp_path / "ws"
    (root / "cfg").mkdir(parents=True)
    (root / "cfg" / "private.yaml").write_text("token_path: /run/x\n")
    (root / "cfg" / "private.yaml").chmod(0o600)
    sync(root, LocalShare(tmp_path / "share"))
    shared = tmp_path / "share" / "cfg" / "private.yaml"
    assert stat.S_IMODE(shared.stat().st_mode) == 0o600
