"""The Azure Files share through the real SDK against the fake: atomic writes, errors, sync
through the CLI's engine, throttling and a network drop mid-sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.errors import AuthError, NotFoundError, UnavailableError, UsageError
from cli.sync.engine import sync
from cli.targets.temps import STALE_AFTER_S, is_temporary
from testkit.fakes.azure import FakeAzure, target_from_outputs


def _workspace(root: Path, n: int = 12) -> dict[str, bytes]:
    files = {}
    for i in range(n):
        rel = f"data/part{i % 3}/file{i}.jsonl" if i % 2 else f"training/mod{i}.py"
        content = (f"{i}:" * (i * 300 + 1)).encode()
        files[rel] = content
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return files


def test_share_round_trip_writes_atomically(azure_target, fake_azure: FakeAzure, tmp_path: Path):
    share = azure_target.share()
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (5 * 4096 + 7))  # > one 4 MiB range
    share.upload_file(big, "models/big.bin")  # parent made on demand
    share.write_bytes("runs/r1/status", b"running")
    share.write_bytes("empty.txt", b"")

    assert sorted(f.path for f in share.list_files()) == [
        "empty.txt",
        "models/big.bin",
        "runs/r1/status",
    ]
    assert share.read_bytes("runs/r1/status") == b"running"
    assert share.read_bytes("empty.txt") == b""
    share.download_file("models/big.bin", tmp_path / "out" / "big.bin")
    assert (tmp_path / "out" / "big.bin").read_bytes() == big.read_bytes()
    assert share.exists("models/big.bin") and share.exists("models")
    assert not share.exists("models/nope.bin")
    # Written under a temporary name and renamed into place: never created at the final path.
    creates = [
        line
        for line in fake_azure.server.requests_matching("PUT /ftkdevstore/ftk/models/")
        if "comp=" not in line and "restype=" not in line
    ]
    assert creates and all("/.ftk-tmp-" in line for line in creates)
    assert [p for p in fake_azure.files.paths("ftk") if is_temporary(p)] == []

    share.delete("models/big.bin")
    share.delete("models/big.bin")  # already gone: fine
    assert not share.exists("models/big.bin")
    with pytest.raises(NotFoundError):
        share.read_bytes("models/big.bin")


def test_missing_share_names_it(fake_azure: FakeAzure):
    target = target_from_outputs(
        fake_azure.outputs(FILE_SHARE_NAME="gone"), connection=fake_azure.connection()
    )
    with pytest.raises(NotFoundError, match="file share 'gone'") as info:
        target.share().write_bytes("x.txt", b"x")
    assert "FILE_SHARE_NAME" in (info.value.hint or "")
    with pytest.raises(NotFoundError, match="file share 'gone'"):
        list(target.share().list_files())


def test_missing_storage_account_names_it(fake_azure: FakeAzure):
    target = target_from_outputs(
        fake_azure.outputs(STORAGE_ACCOUNT_NAME="nostore"), connection=fake_azure.connection()
    )
    with pytest.raises(NotFoundError, match="storage account 'nostore'"):
        target.share().exists("x")


def test_account_key_needs_a_role(azure_target, fake_azure: FakeAzure):
    fake_azure.arm.deny.add("/listKeys")
    with pytest.raises(AuthError) as info:
        azure_target.share().exists("x")
    assert "Storage Account Key Operator" in (info.value.hint or "")
    assert fake_azure.arm.account_key not in str(info.value) + (info.value.hint or "")


def test_sync_then_noop_resync(azure_target, fake_azure: FakeAzure, tmp_path: Path):
    root = tmp_path / "ws"
    files = _workspace(root)
    share = azure_target.share()

    first = sync(root, share)
    assert sorted(first.uploaded) == sorted(files)
    for rel, content in files.items():
        assert fake_azure.files.read("ftk", rel) == content
    manifest = json.loads(fake_azure.files.read("ftk", ".ftk/manifest.json"))
    assert set(manifest["files"]) == set(files)

    before = len(fake_azure.server.log)
    again = sync(root, share)
    assert again.uploaded == [] and again.bytes == 0
    new_requests = fake_azure.server.log[before:]
    assert not [r for r in new_requests if r.startswith("PUT")], new_requests


def test_throttled_uploads_are_retried(azure_target, fake_azure: FakeAzure, tmp_path: Path):
    root = tmp_path / "ws"
    files = _workspace(root, n=6)
    fake_azure.faults.fail("comp=range", 503, times=3)
    fake_azure.faults.fail("GET /subscriptions", 429, times=1)  # ARM throttling too
    result = sync(root, azure_target.share())
    assert sorted(result.uploaded) == sorted(files)
    assert all(fake_azure.files.read("ftk", rel) == c for rel, c in files.items())


def test_network_drop_mid_sync_then_rerun_completes(
    azure_target, fake_azure: FakeAzure, tmp_path: Path
):
    root = tmp_path / "ws"
    files = _workspace(root, n=16)
    share = azure_target.share()
    # The network goes away after a few uploads: every data-plane request is dropped.
    fake_azure.faults.drop("/ftkdevstore/ftk/", skip=12, times=10_000)
    with pytest.raises(UnavailableError):
        sync(root, share, workers=4)

    # Nothing half-written is visible: each file at its final name is complete.
    visible = [p for p in fake_azure.files.paths("ftk") if not is_temporary(p)]
    for rel in visible:
        if rel in files:
            assert fake_azure.files.read("ftk", rel) == files[rel], rel
    assert len([p for p in visible if p in files]) < len(files)

    fake_azure.faults.clear()
    result = sync(root, share)
    assert set(result.uploaded) | set(visible) >= set(files)
    for rel, content in files.items():
        assert fake_azure.files.read("ftk", rel) == content
    assert sorted(f.path for f in share.list_files() if not f.path.startswith(".ftk/")) == sorted(
        files
    )


def test_names_that_fit_azure_files_sync_even_at_the_limit(
    azure_target, fake_azure: FakeAzure, tmp_path: Path
):
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    names = ["data/" + "n" * 255, "data/" + "é" * 127 + "x"]  # 255: the limit of both sides
    for rel in names:
        (root / rel).write_text("x")
    share = azure_target.share()
    result = sync(root, share)
    assert sorted(result.uploaded) == sorted(names)
    assert all(fake_azure.files.read("ftk", rel) == b"x" for rel in names)
    share.write_bytes("runs/" + "r" * 255, b"ok")
    assert share.read_bytes("runs/" + "r" * 255) == b"ok"
    with pytest.raises(Exception, match="InvalidResourceName"):  # the fake does enforce it
        share.write_bytes("n" * 256, b"too long")


def test_next_sync_sweeps_stale_temporaries_but_not_a_live_one(
    azure_target, fake_azure: FakeAzure, tmp_path: Path
):
    root = tmp_path / "ws"
    files = _workspace(root, n=4)
    share = azure_target.share()
    sync(root, share)

    # What a `kill -9` mid-sync leaves: temporaries next to the files being written.
    stale = [
        "data/part1/.ftk-tmp-0123456789abcdef",
        "data/part1/.file1.jsonl.ftk-part-0123456789ab",  # the name + suffix of earlier versions
        ".ftk/.ftk-tmp-fedcba9876543210",  # the manifest's
        ".ftk-tmp-00112233445566aa",
    ]
    live = "training/.ftk-tmp-00000000000000ff"  # a concurrent sync's upload, written just now
    others = ["runs/r1/.ftk-tmp-0123456789abcdef", "training/.ftk-tmp-notes.txt"]
    for path in [*stale, *others]:
        fake_azure.files.put("ftk", path, b"half", age_s=STALE_AFTER_S + 60)
    fake_azure.files.put("ftk", live, b"half", age_s=STALE_AFTER_S - 60)
    assert not [f for f in share.list_files() if is_temporary(f.path)]  # invisible to readers

    changed = next(iter(files))
    (root / changed).write_bytes(b"changed")
    before = len(fake_azure.server.log)
    # The next sync is another process (the killed one is gone): a new client.
    share = target_from_outputs(fake_azure.outputs(), connection=fake_azure.connection()).share()
    result = sync(root, share)
    assert result.uploaded == [changed]
    assert sorted(result.swept) == sorted(stale)
    remaining = fake_azure.files.paths("ftk")
    assert not set(stale) & set(remaining)
    assert live in remaining and set(others) <= set(remaining)
    # One filtered listing per folder, asking the service for timestamps.
    listings = [r for r in fake_azure.server.log[before:] if "comp=list" in r]
    assert listings and all("prefix=." in r and "include=" in r for r in listings)


@pytest.mark.parametrize(
    "name",
    [
        *('a"b', "a\\b", "a:b", "a|b", "a<b", "a>b", "a*b"),
        *("ctl\x01", "esc\x1b[2J", "c1\x81"),
        *("CON", "lpt1", "data/Clock$", "nul"),
    ],
)
def test_the_fake_refuses_the_names_azure_files_refuses(azure_target, name: str):
    # MicrosoftDocs "Naming and referencing shares, directories, files, and metadata": 400.
    # `?` is not here: azure-storage-file-share 12.27.1 sends it unencoded in a rename's URL, so
    # the service sees the name cut at `?` (`a?b` lands as `a`); sync refuses it before that.
    with pytest.raises(Exception, match="InvalidResourceName"):
        azure_target.share().write_bytes(name, b"x")


def test_the_fake_ignores_case_and_keeps_the_first_spelling(azure_target, fake_azure: FakeAzure):
    share = azure_target.share()
    share.write_bytes("Data/Train.csv", b"one")
    assert share.read_bytes("data/train.CSV") == b"one" and share.exists("DATA/TRAIN.csv")
    share.write_bytes("data/train.csv", b"two")  # the same file: replaced, not a second one
    share.write_bytes("DATA/test.csv", b"three")  # into the same folder
    assert fake_azure.files.paths("ftk") == ["Data/Train.csv", "Data/test.csv"]
    assert share.read_bytes("Data/Train.csv") == b"two"
    share.delete("data/TRAIN.csv")
    assert fake_azure.files.paths("ftk") == ["Data/test.csv"]
    assert share.write_bytes("con.txt", b"ok") is None  # only the bare reserved name is refused


def test_sync_refuses_names_azure_files_cannot_hold_before_any_request(
    azure_target, fake_azure: FakeAzure, tmp_path: Path
):
    root = tmp_path / "ws"
    files = _workspace(root, n=4)
    for rel in ("notes:1.txt", "Data.csv", "data.csv"):
        (root / rel).write_text("x")
    share = azure_target.share()
    before = len(fake_azure.server.log)
    with pytest.raises(UsageError, match="3 file name") as info:
        sync(root, share)
    assert "'notes:1.txt': ':' is not allowed" in info.value.message
    assert not [r for r in fake_azure.server.log[before:] if r.startswith("PUT")]

    for rel in ("notes:1.txt", "Data.csv"):
        (root / rel).unlink()
    assert sorted(sync(root, share).uploaded) == sorted([*files, "data.csv"])


def test_a_case_only_rename_with_delete_keeps_the_file(
    azure_target, fake_azure: FakeAzure, tmp_path: Path
):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "Data.csv").write_text("v1")
    share = azure_target.share()
    sync(root, share)
    (root / "Data.csv").rename(root / "data.csv")
    (root / "data.csv").write_text("v2")
    result = sync(root, share, delete=True)
    # On Azure Files `data.csv` replaced `Data.csv`; deleting `Data.csv` would delete it.
    assert result.uploaded == ["data.csv"] and result.deleted == []
    assert share.read_bytes("data.csv") == b"v2"
