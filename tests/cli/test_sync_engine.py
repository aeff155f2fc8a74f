"""The sync engine's own costs and races: files that vanish mid-sync, what a no-op re-sync reads
and sends, how many requests a file costs on Azure Files."""

from __future__ import annotations

import json
from pathlib import Path

from cli.sync import cache as cache_mod
from cli.sync.engine import sync
from cli.sync.manifest import read_manifest
from cli.targets.temps import is_temporary
from testkit.fakes.azure import FakeAzure, target_from_outputs
from testkit.fakes.targets import MemoryShare
from tests.cli.conftest import write_files


def test_a_file_deleted_while_sync_hashes_it_is_left_out(tmp_path, monkeypatch):
    root = write_files(tmp_path, {"keep.txt": "keep", "gone.txt": "gone", "d/also.txt": "x"})
    real = cache_mod.sha256_file
    deleting = [True]

    def hash_after_the_user_deletes(path: Path) -> str:
        if path.name == "gone.txt" and deleting[0]:
            path.unlink()  # the user (or an editor's save-as) removes it between walk and hash
        return real(path)

    monkeypatch.setattr("cli.sync.engine.sha256_file", hash_after_the_user_deletes)
    share = MemoryShare()
    result = sync(root, share)  # a new file: hashed by the upload worker
    assert sorted(result.uploaded) == ["d/also.txt", "keep.txt"]
    assert sorted(read_manifest(share)) == ["d/also.txt", "keep.txt"]

    deleting[0] = False
    (root / "gone.txt").write_text("back")
    assert sync(root, share).uploaded == ["gone.txt"]
    # Changed, same size as the manifest says: hashed while planning, and deleted right then.
    deleting[0] = True
    (root / "gone.txt").write_text("BACK")
    again = sync(root, share)
    assert again.uploaded == [] and not (root / "gone.txt").exists()
    assert sorted(read_manifest(share)) == ["d/also.txt", "gone.txt", "keep.txt"]


def test_a_file_deleted_between_stat_and_hash_or_before_its_upload_is_left_out(tmp_path):
    root = write_files(tmp_path, {"keep.txt": "keep", "gone.txt": "gone"})

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
    root = write_files(tmp_path, {f"d{i % 3}/f{i}.json": json.dumps({"n": i}) for i in range(20)})
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
    root = write_files(tmp_path, {"notes.txt": "hello"})
    sync(root, MemoryShare())
    monkeypatch.setattr(cache_mod, "scanner_id", lambda: "other rules")
    monkeypatch.setattr(
        "cli.sync.engine.secret_reason", lambda r, rel: "looks like a secret under new rules"
    )
    assert sync(root, MemoryShare()).refused == ["notes.txt"]


def _data_plane(fake: FakeAzure, since: int) -> list[str]:
    return [line for line in fake.server.log[since:] if "/ftkdevstore/ftk" in line]


def test_first_sync_costs_one_request_per_small_file_and_replacements_stay_atomic(
    azure_target, fake_azure: FakeAzure, tmp_path: Path
):
    files = {f"data/p{i % 2}/f{i}.jsonl": f"{i}\n" * (i + 1) for i in range(10)}
    root = write_files(tmp_path / "ws", files)
    share = azure_target.share()
    share.exists("warm-up")  # the account key is fetched once, through ARM
    before = len(fake_azure.server.log)
    first = sync(root, share)
    assert sorted(first.uploaded) == sorted(files)
    for rel, text in files.items():
        assert fake_azure.files.read("ftk", rel) == text.encode()
    writes = [r for r in _data_plane(fake_azure, before) if r.startswith("PUT")]
    file_writes = [r for r in writes if "/ftkdevstore/ftk/data/p" in r and "restype=" not in r]
    # Folders this sync made were empty: each file is one Create File carrying its content.
    assert len(file_writes) == len(files), file_writes
    assert not [r for r in file_writes if "comp=" in r or ".ftk-tmp-" in r]
    # Stale temporaries are looked for only where they can be: not in the folders it made.
    listings = [r for r in _data_plane(fake_azure, before) if "comp=list" in r]
    assert [r.split("?")[0] for r in listings] == ["GET /ftkdevstore/ftk"]

    # An existing file is replaced atomically: temporary (content included), then rename.
    (root / "data/p0/f0.jsonl").write_text("changed\n")
    (root / "data/p1/new.jsonl").write_text("new in a folder that was there\n")
    before = len(fake_azure.server.log)
    share = target_from_outputs(fake_azure.outputs(), connection=fake_azure.connection()).share()
    again = sync(root, share)  # another process: it made none of these folders
    assert sorted(again.uploaded) == ["data/p0/f0.jsonl", "data/p1/new.jsonl"]
    writes = [
        r for r in _data_plane(fake_azure, before) if r.startswith("PUT /ftkdevstore/ftk/data")
    ]
    creates = [r for r in writes if "comp=rename" not in r]
    assert len(creates) == 2 and all(".ftk-tmp-" in r for r in creates), writes
    assert len([r for r in writes if "comp=rename" in r]) == 2
    assert fake_azure.files.read("ftk", "data/p0/f0.jsonl") == b"changed\n"
    assert not [p for p in fake_azure.files.paths("ftk") if is_temporary(p)]


def test_noop_resync_sends_one_request(azure_target, fake_azure: FakeAzure, tmp_path: Path):
    root = write_files(tmp_path / "ws", {f"d{i % 4}/f{i}.txt": str(i) for i in range(40)})
    share = azure_target.share()
    sync(root, share)
    before = len(fake_azure.server.log)
    again = sync(root, share)
    assert again.uploaded == [] and again.bytes == 0
    assert _data_plane(fake_azure, before) == [
        line for line in fake_azure.server.log[before:] if "manifest.json" in line
    ]
    assert len(_data_plane(fake_azure, before)) == 1


def test_a_file_larger_than_one_request_goes_through_a_temporary(
    azure_target, fake_azure: FakeAzure, tmp_path: Path
):
    root = tmp_path / "ws"
    (root / "big").mkdir(parents=True)
    data = bytes(range(256)) * (4 * 4096 * 2 + 5)  # 8 MiB and a bit: three ranges
    (root / "big/data.bin").write_bytes(data)
    before = len(fake_azure.server.log)
    sync(root, azure_target.share())
    assert fake_azure.files.read("ftk", "big/data.bin") == data
    writes = [
        r for r in _data_plane(fake_azure, before) if r.startswith("PUT /ftkdevstore/ftk/big/")
    ]
    assert len([r for r in writes if "comp=range" in r]) == 3
    assert [r for r in writes if "comp=rename" in r]
    assert all(".ftk-tmp-" in r for r in writes if "restype=" not in r and "rename" not in r)


def test_the_share_transport_reads_proxy_settings_once_per_host(monkeypatch):
    import requests.sessions

    from cli.targets.azure.clients import AzureConnection

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "other.example")
    lookups: list[str] = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(
        requests.sessions,
        "get_environ_proxies",
        lambda url, **k: lookups.append(url) or real(url, **k),
    )
    session = AzureConnection().share_transport_kwargs()["transport"].session
    url = "https://acct.file.core.windows.net/share/a.txt"
    for path in ("a.txt", "b.txt", "c/d.txt"):
        settings = session.merge_environment_settings(
            url.replace("a.txt", path), {}, None, True, None
        )
        assert settings["proxies"]["https"] == "http://proxy.example:3128"
    assert len(lookups) == 1
    bypassed = session.merge_environment_settings("https://other.example/x", {}, None, True, None)
    assert "https" not in bypassed["proxies"] and len(lookups) == 2
