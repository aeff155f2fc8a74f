"""The local share: atomic writes, file modes kept, temporary names that always fit, stale
temporaries of a killed sync swept by the next sync."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from cli.sync.engine import sync
from cli.targets.local.share import LocalShare
from cli.targets.temps import STALE_AFTER_S, is_temporary

CURRENT = ".ftk-tmp-0123456789abcdef"
LEGACY = ".e.txt.ftk-tmp-0123abcd"  # name + suffix, as ftk wrote them before


def _age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def test_local_share_writes_atomically_and_hides_temporaries(tmp_path):
    share = LocalShare(tmp_path / "share")
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 100)
    share.upload_file(src, "a/b/c.bin")
    share.write_bytes("a/d.txt", b"hi")
    for name in (CURRENT, LEGACY):
        (tmp_path / "share" / "a" / name).write_bytes(b"half")
    assert [f.path for f in share.list_files("a")] == ["a/d.txt", "a/b/c.bin"]
    assert share.read_bytes("a/b/c.bin") == b"x" * 100
    leftovers = sorted(p.name for p in (tmp_path / "share").rglob("*") if is_temporary(p.name))
    assert leftovers == sorted([CURRENT, LEGACY])


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


def test_next_sync_sweeps_stale_temporaries_but_not_a_live_one(tmp_path):
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.txt").write_text("one")
    share_dir = tmp_path / "share"
    share = LocalShare(share_dir)
    sync(root, share)

    # What a `kill -9` mid-sync leaves: temporaries next to the files being written.
    stale = [share_dir / "data" / CURRENT, share_dir / "data" / LEGACY]
    stale.append(share_dir / ".ftk" / ".ftk-tmp-fedcba9876543210")  # the manifest's
    live = share_dir / "data" / ".ftk-tmp-00000000000000ff"  # a concurrent sync's, just written
    others = [share_dir / "data" / ".ftk-tmp-notes.txt", share_dir / "runs" / "r1" / CURRENT]
    for path in [*stale, live, *others]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    for path in [*stale, *others]:
        _age(path, STALE_AFTER_S + 60)
    _age(live, STALE_AFTER_S - 60)

    (root / "data" / "a.txt").write_text("two")
    result = sync(root, share)
    assert result.uploaded == ["data/a.txt"]
    assert sorted(result.swept) == sorted(p.relative_to(share_dir).as_posix() for p in stale)
    assert not any(p.exists() for p in stale)
    assert live.exists() and all(p.exists() for p in others)


def test_names_that_fit_the_file_system_sync_even_at_the_limit(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    names = ["n" * 255, "é" * 127 + "x"]  # 255 bytes each: the POSIX NAME_MAX of ext4/tmpfs
    for name in names:
        (root / name).write_text(name[:3])
    share = LocalShare(tmp_path / "share")
    result = sync(root, share)
    assert sorted(result.uploaded) == sorted(names)
    share.write_bytes("runs/" + "r" * 255, b"ok")
    assert share.read_bytes("runs/" + "r" * 255) == b"ok"
