"""The sync engine's own costs and races: files that vanish mid-sync, what a no-op re-sync reads
and sends, how many requests a file costs on Azure Files."""

from __future__ import annotations

import json
from pathlib import Path

from cli.sync import cache as cache_mod
from cli.sync.engine import sync
from cli.sync.manifest import read_manifest
from testkit.fakes.targets import MemoryShare


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_a_file_deleted_while_sync_hashes_it_is_left_out(tmp_path, monkeypatch):
    root = make(tmp_path, {"keep.txt": "keep", "gone.txt": "gone", "d/also.txt": "x"})
    real = cache_mod.sha256_file

    def hash_after_the_user_deletes(path: Path) -> str:
        if path.name == "gone.txt":
            path.unlink()  # the user (or an editor's save-as) removes it between walk and hash
        return real(path)

    monkeypatch.setattr("cli.sync.engine.sha256_file", hash_after_the_user_deletes)
    share = MemoryShare()
    result = sync(root, share)
    assert sorted(result.uploaded) == ["d/also.txt", "keep.txt"]
    assert sorted(read_manifest(share)) == ["d/also.txt", "keep.txt"]


def test_a_file_deleted_between_stat_and_hash_or_before_its_upload_is_left_out(tmp_path):
    root = make(tmp_path, {"keep.txt": "keep", "gone.txt": "gone"})

    class VanishingShare(MemoryShare):
        def upload_file(self, local: Path, path: str) -> None:
            if path == "gone.txt":
                local.unlink()  # deleted after planning, before its upload starts
            super().upload_file(local, path)

    share = VanishingShare()
    result = sync(root, share)
    assert result.uploaded == ["keep.txt"]
    assert sorted(read_manifest(share)) == ["keep.txt"]
    assert "gone.txt" not in share.files


def test_noop_resync_reads_no_unchanged_file_but_checks_a_changed_one(tmp_path, monkeypatch):
    root = make(tmp_path, {f"d{i % 3}/f{i}.json": json.dumps({"n": i}) for i in range(20)})
    share = MemoryShare()
    assert len(sync(root, share).uploaded) == 20

    from cli.sync import secrets

    checked: list[str] = []
    real = secrets.secret_reason
    monkeypatch.setattr(
        "cli.sync.engine.secret_reason", lambda r, rel: checked.append(rel) or real(r, rel)
    )
    opened: list[str] = []
    real_open = Path.open
    monkeypatch.setattr(
        Path, "open", lambda p, *a, **k: opened.append(p.name) or real_open(p, *a, **k)
    )
    again = sync(root, share)
    assert again.uploaded == [] and checked == []
    assert [name for name in opened if name.endswith(".json") and name.startswith("f")] == []

    # A key pasted into a file already sent: the changed file is checked again and refused.
    (root / "d1/f1.json").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n")
    third = sync(root, share)
    assert checked == ["d1/f1.json"] and third.refused == ["d1/f1.json"]


def test_cached_verdicts_are_dropped_when_the_rules_change(tmp_path, monkeypatch):
    root = make(tmp_path, {"notes.txt": "hello"})
    sync(root, MemoryShare())
    monkeypatch.setattr(cache_mod, "scanner_id", lambda: "other rules")
    monkeypatch.setattr(
        "cli.sync.engine.secret_reason", lambda r, rel: "looks like a secret under new rules"
    )
    assert sync(root, MemoryShare()).refused == ["notes.txt"]
