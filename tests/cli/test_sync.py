"""The sync engine: ignore rules, secret refusal, stat cache, manifest diff, safe re-runs."""

from __future__ import annotations

import codecs
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from cli.errors import UnavailableError, UsageError
from cli.sync import cache as cache_mod
from cli.sync.engine import sync
from cli.sync.manifest import MANIFEST_PATH, read_manifest
from testkit.fakes.targets import MemoryShare
from tests.cli.conftest import write_files


def test_defaults_skip_tool_folders_but_keep_training_and_inference(tmp_path):
    root = write_files(
        tmp_path,
        {
            "training/__init__.py": "",
            "inference/app.py": "",
            "data/a.jsonl": "{}",
            ".git/config": "",
            ".venv/bin/python": "",
            "pkg/__pycache__/x.pyc": "",
            ".ftk/local/share/x": "",
            "runs/r1/adapter.bin": "",
            "sub/runs/kept.txt": "",
        },
    )
    result = sync(root, MemoryShare())
    assert result.uploaded == [
        "data/a.jsonl",
        "inference/app.py",
        "sub/runs/kept.txt",
        "training/__init__.py",
    ]


def test_gitignore_and_ftkignore_with_negation(tmp_path):
    root = write_files(
        tmp_path,
        {
            ".gitignore": "*.log\nbuild/\n",
            ".ftkignore": "big/\n!keep.log\n",
            "a.log": "",
            "keep.log": "",
            "build/out.bin": "",
            "big/weights.bin": "",
            "main.py": "",
        },
    )
    result = sync(root, MemoryShare())
    assert result.uploaded == [".ftkignore", ".gitignore", "keep.log", "main.py"]


def test_rules_files_in_latin1_with_a_bom_or_in_utf16_are_read_as_git_would(tmp_path):
    root = write_files(tmp_path, {"a.log": "", "b.tmp": "", "c.bak": "", "main.py": ""})
    # A Latin-1 comment and pattern (git reads bytes): the pattern matches the file with that byte.
    (root / ".gitignore").write_bytes(b"# caf\xe9 outputs\n*.log\ncaf\xe9.txt\n")
    (root / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name")
    (root / ".ftkignore").write_bytes("*.tmp\r\n*.bak\r\n".encode("utf-16"))  # PowerShell 5 `>`
    result = sync(root, MemoryShare())
    assert result.uploaded == [".ftkignore", ".gitignore", "main.py"]

    (root / ".ftkignore").write_bytes(codecs.BOM_UTF8 + b"*.tmp\n")  # Notepad's UTF-8
    assert sync(root, MemoryShare()).uploaded == [".ftkignore", ".gitignore", "c.bak", "main.py"]


def test_a_bom_does_not_hide_the_first_line_of_ftkallow(tmp_path):
    root = write_files(tmp_path, {"certs/public.pem": "cert", "deploy.pem": "key"})
    (root / ".ftkallow").write_bytes(codecs.BOM_UTF8 + b"certs/public.pem\n")
    result = sync(root, MemoryShare())
    assert result.allowed == ["certs/public.pem"] and result.refused == ["deploy.pem"]


def test_secret_looking_files_are_refused_unless_named_in_ftkallow(tmp_path):
    root = write_files(
        tmp_path,
        {
            ".env": "HF_TOKEN=hf_x",
            "certs/server.pem": "",
            "id_rsa": "",
            "gcp-credentials.json": "{}",
            "deploy.key": "",
            "ok.json": "{}",
        },
    )
    share = MemoryShare()
    result = sync(root, share)
    assert sorted(result.refused) == [
        ".env",
        "certs/server.pem",
        "deploy.key",
        "gcp-credentials.json",
        "id_rsa",
    ]
    assert result.uploaded == ["ok.json"]
    assert ".env" not in share.files

    (root / ".ftkignore").write_text("!certs/server.pem\n")  # ignore rules cannot send it
    assert "certs/server.pem" in sync(root, share).refused
    (root / ".ftkallow").write_text("certs/server.pem\n")
    again = sync(root, share)
    assert "certs/server.pem" in again.uploaded and again.allowed == ["certs/server.pem"]
    assert "certs/server.pem" not in again.refused and ".env" in again.refused


def test_noop_resync_uploads_nothing_and_does_not_rehash(tmp_path, monkeypatch):
    root = write_files(tmp_path, {f"d{i % 3}/f{i}.txt": f"content {i}" for i in range(30)})
    share = MemoryShare()
    first = sync(root, share)
    assert len(first.uploaded) == 30 and first.bytes > 0

    hashed: list[Path] = []
    real = cache_mod.sha256_file
    monkeypatch.setattr("cli.sync.engine.sha256_file", lambda p: hashed.append(p) or real(p))
    writes_before = len(share.writes)
    second = sync(root, share)
    assert second.to_dict() == {
        "uploaded": [],
        "deleted": [],
        "skipped": 30,
        "refused": [],
        "allowed": [],
        "bytes": 0,
        "swept": [],
    }
    assert hashed == [] and len(share.writes) == writes_before  # not even the manifest

    (root / "d0/f0.txt").write_text("changed!")
    third = sync(root, share)
    assert third.uploaded == ["d0/f0.txt"] and [p.name for p in hashed] == ["f0.txt"]


def test_manifest_is_written_last_and_describes_the_files(tmp_path):
    root = write_files(tmp_path, {"a.txt": "aa", "b/c.txt": "ccc"})
    share = MemoryShare()
    sync(root, share)
    assert share.writes[-1] == MANIFEST_PATH
    manifest = json.loads(share.files[MANIFEST_PATH])
    assert manifest["version"] == 1
    assert manifest["files"]["b/c.txt"]["size"] == 3
    assert len(manifest["files"]["a.txt"]["sha256"]) == 64


def test_interrupted_sync_is_completed_by_a_rerun(tmp_path):
    root = write_files(tmp_path, {f"f{i}.txt": f"v1 {i}" for i in range(10)})
    share = MemoryShare()
    sync(root, share)
    for i in range(10):
        (root / f"f{i}.txt").write_text(f"v2 {i}")

    share.fail_after = share.uploads + 4  # the link drops during the 4th upload
    with pytest.raises(UnavailableError) as info:
        sync(root, share, workers=1)
    assert "ftk sync" in info.value.hint
    # The manifest never vouches for a file that was not re-sent.
    manifest = read_manifest(share)
    for path, entry in manifest.items():
        assert share.files[path] == (root / path).read_bytes(), path
        assert entry.size == len(share.files[path])

    share.fail_after = None
    rerun = sync(root, share)
    assert len(rerun.uploaded) == 10 - 3  # the three that arrived are not sent again
    assert all(share.files[f"f{i}.txt"] == f"v2 {i}".encode() for i in range(10))


def test_reverting_a_file_after_an_interrupted_sync_is_still_resent(tmp_path):
    root = write_files(tmp_path, {"a.txt": "one"})
    share = MemoryShare()
    sync(root, share)
    (root / "a.txt").write_text("two")
    (root / "b.txt").write_text("new")
    share.fail_after = share.uploads + 2  # a.txt (sorted first) arrives, b.txt fails
    with pytest.raises(UnavailableError):
        sync(root, share, workers=1)
    share.fail_after = None
    (root / "a.txt").write_text("one")  # back to what the old manifest said
    os.utime(root / "a.txt", ns=(1, 1))
    sync(root, share)
    assert share.files["a.txt"] == b"one"


def test_delete_removes_only_files_an_earlier_sync_sent(tmp_path):
    root = write_files(tmp_path, {"a.txt": "a", "b.txt": "b"})
    share = MemoryShare()
    sync(root, share)
    share.write_bytes("runs/r1/status", b"succeeded")  # written by a job, not by sync
    (root / "b.txt").unlink()

    kept = sync(root, share)
    assert kept.deleted == [] and "b.txt" in share.files
    dry = sync(root, share, delete=True, dry_run=True)
    assert dry.deleted == ["b.txt"] and "b.txt" in share.files
    done = sync(root, share, delete=True)
    assert done.deleted == ["b.txt"] and "b.txt" not in share.files
    assert "runs/r1/status" in share.files
    assert "b.txt" not in read_manifest(share)


def test_the_shares_own_folders_are_never_sent_nor_deleted_whatever_ftkignore_says(tmp_path):
    # TensorBoard logs to ./runs/ by default, so a user re-includes it; `ftk download` also fills
    # ./runs/RUN. Neither may overwrite what the job trained, and --delete may never remove it.
    root = write_files(
        tmp_path,
        {
            ".ftkignore": "!/runs/\n!/model-cache/\n!/.ftk/\n!runs/\n",
            "runs/r1/adapter/adapter_model.safetensors": "local copy",
            "runs/events.out.tfevents.1": "tensorboard",
            "Runs/r1/status": "failed",  # Azure Files ignores case: this is the share's runs/
            "model-cache/m/config.json": "{}",
            ".ftk/manifest.json": "{}",
            "train.py": "",
        },
    )
    share = MemoryShare()
    job_wrote = {
        "runs/r1/adapter/adapter_model.safetensors": b"trained",
        "runs/r1/status": b"succeeded",
        "model-cache/m/config.json": b'{"model_type": "llama"}',
    }
    for path, data in job_wrote.items():
        share.write_bytes(path, data)
    result = sync(root, share)
    assert result.uploaded == [".ftkignore", "train.py"]
    assert all(share.files[p] == data for p, data in job_wrote.items())

    # A manifest from an older ftk that did send runs/: --delete still leaves the job's files.
    manifest = json.loads(share.files[MANIFEST_PATH])
    for path, data in job_wrote.items():
        manifest["files"][path] = {"size": len(data), "sha256": "0" * 64}
    share.write_bytes(MANIFEST_PATH, json.dumps(manifest).encode())
    for rel in ("runs", "Runs", "model-cache"):
        shutil.rmtree(root / rel)
    done = sync(root, share, delete=True)
    assert done.deleted == [] and done.uploaded == []
    assert all(share.files[p] == data for p, data in job_wrote.items())


def test_dry_run_writes_nothing(tmp_path):
    root = write_files(tmp_path, {"a.txt": "a"})
    share = MemoryShare()
    result = sync(root, share, dry_run=True)
    assert result.uploaded == ["a.txt"] and result.bytes == 1
    assert share.files == {}


class _ConcurrentShare(MemoryShare):
    """A share that proves concurrency: each call waits until `parties` calls run at once."""

    def __init__(self, parallelism: int, parties: dict[int, int], uploads: int):
        super().__init__()
        self.parallelism = parallelism
        self.dir_barriers = {
            depth: threading.Barrier(n, timeout=10) for depth, n in parties.items()
        }
        self.upload_barrier = threading.Barrier(uploads, timeout=10)
        self.made: list[str] = []

    def make_dirs(self, path: str) -> None:
        if path.startswith(".ftk"):  # the manifest's folder, written after the sync
            return super().make_dirs(path)
        parent = path.rpartition("/")[0]
        assert not parent or parent in self.dirs, f"{path} created before {parent}"
        self.dir_barriers[path.count("/")].wait()
        self.dirs.add(path)
        self.made.append(path)

    def upload_file(self, local: Path, path: str) -> None:
        self.upload_barrier.wait()
        super().upload_file(local, path)


def test_sync_uses_the_shares_parallelism_and_creates_each_level_of_dirs_at_once(tmp_path):
    # 12 uploads at once is more than DEFAULT_WORKERS (8): only the share's hint gets there.
    files = {
        f"{top}/{sub}/f{i}.txt": str(i)
        for i, (top, sub) in enumerate(
            (t, s) for t in ("a", "b", "c") for s in ("x", "y", "z", "w")
        )
    }
    root = write_files(tmp_path / "ws", files)
    share = _ConcurrentShare(parallelism=12, parties={0: 3, 1: 12}, uploads=12)
    result = sync(root, share)
    assert sorted(result.uploaded) == sorted(files)
    assert set(share.made[:3]) == {"a", "b", "c"} and len(share.made) == 15


def test_names_the_share_cannot_hold_are_refused_before_anything_is_uploaded(tmp_path):
    bad = {
        "logs/run-2026-12-05T10:00.log": "':' is not allowed",
        'say"hi".txt': "'\"' is not allowed",
        "a|b.txt": "'|' is not allowed",
        "back\\slash.txt": "'\\' is not allowed",
        "what?.md": "'?' is not allowed",
        "tab\there.txt": "control character U+0009 is not allowed",
        "data/CON": "a reserved name",
        "Data.csv": "same name as 'data.csv' on a case-insensitive share",
        "data.csv": "same name as 'Data.csv' on a case-insensitive share",
        "Images/a.png": "same name as 'images' on a case-insensitive share",
        "images/b.png": "same name as 'Images' on a case-insensitive share",
    }
    root = write_files(tmp_path, {rel: "x" for rel in bad} | {"ok.txt": "x", "con.txt": "x"})
    share = MemoryShare()
    with pytest.raises(UsageError) as info:
        sync(root, share)
    for rel, why in bad.items():
        assert f"'{rel}': {why}" in info.value.message
    assert "'ok.txt'" not in info.value.message and "'con.txt'" not in info.value.message
    assert "11 file name(s)" in info.value.message and ".ftkignore" in (info.value.hint or "")
    assert share.files == {}  # nothing uploaded, not even the good files

    (root / ".ftkignore").write_text("".join(f"/{rel}\n" for rel in bad if "\\" not in rel))
    (root / "back\\slash.txt").unlink()
    assert sync(root, share).uploaded == [".ftkignore", "con.txt", "ok.txt"]


def test_a_case_only_rename_is_not_deleted_as_stale(tmp_path):
    root = write_files(tmp_path, {"Data.csv": "v1"})
    share = MemoryShare()
    sync(root, share)
    (root / "Data.csv").rename(root / "data.csv")
    (root / "data.csv").write_text("v2")
    result = sync(root, share, delete=True)
    assert result.uploaded == ["data.csv"] and result.deleted == []


def test_file_names_with_escape_sequences_reach_the_terminal_escaped(project, fake_target, invoke):
    (project / ".ftkallow").write_text("*.env\x1b[2J\n")  # a bad line, echoed in the error
    bad = invoke(fake_target, ["sync"], project)
    assert bad.exit_code == 2 and "\x1b" not in bad.stderr
    assert "'*.env\\x1b[2J' is not one file's path" in bad.stderr
    (project / ".ftkallow").unlink()

    clear = "\x1b[2J\x1b]0;pwned\x07notes.txt"  # clears the screen, retitles the window
    (project / clear).write_text("x")
    refused = invoke(fake_target, ["sync"], project)  # Azure Files refuses control characters
    assert refused.exit_code == 2 and "\x1b" not in refused.stderr and "\x07" not in refused.stderr
    assert "'\\x1b[2J\\x1b]0;pwned\\x07notes.txt': control character U+001B" in refused.stderr
    (project / clear).unlink()

    hidden = "ok\x1b[8m.env"  # refused as a secret before its name is checked
    spoofed = "\u202etxt.exe"  # a right-to-left override: shows as "exe.txt"
    markup = "[bold]x.txt"
    for rel in (hidden, spoofed, markup):
        (project / rel).write_text("x")
    for args in (["sync", "--dry-run"], ["sync"]):
        result = invoke(fake_target, args, project)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
        assert "refused ok\\x1b[8m.env: looks like a secret" in result.stderr
        if "--dry-run" in args:
            assert "+ \\u202etxt.exe" in result.stderr and "+ [bold]x.txt" in result.stderr
    assert fake_target.share().read_bytes(spoofed) == b"x"  # escaped when shown, sent as it is
