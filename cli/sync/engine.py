"""Incremental sync: local files vs the share's manifest, bounded parallel uploads, manifest last.

Order of writes, so that an interrupted sync is always safe to re-run:
1. entries of files about to be overwritten are dropped from the manifest first (only when such
   files exist), so the manifest never vouches for content that is half replaced;
2. directories are created once each, one depth level at a time (parents before children, each
   level in the worker pool);
3. files are uploaded through `Share.upload_file` (temporary name, then rename; a share may write
   a new file in a folder it just created in place) in a bounded pool whose size is the share's
   `parallelism`; a file sent whatever its content (new, or resized) is hashed by its worker;
4. stale files are deleted (only with `delete=True`, and only files an earlier sync wrote);
5. the manifest is written. If uploads fail, a manifest of what did arrive is still written (best
   effort), so the re-run sends only the rest;
6. temporaries that an interrupted (killed) earlier sync left in the workspace's folders on the
   share are removed once stale (`cli.targets.temps`, `Share.sweep_temporaries`).
   Only syncs that wrote something sweep, so a no-op re-sync is one read (the manifest).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cli.errors import FtkError, UnavailableError
from cli.sync.cache import StatCache, sha256_file
from cli.sync.manifest import Entry, Manifest, read_manifest, write_manifest
from cli.sync.names import case_twins
from cli.sync.rules import Rules
from cli.sync.secrets import secret_reason
from cli.targets.base import Share
from cli.targets.temps import STALE_AFTER_S

DEFAULT_WORKERS = 8  # local hashing, and a share whose `parallelism` is 0

ProgressCallback = Callable[[str, int], None]
"""Called after each uploaded file with (path, bytes); from worker threads' completion order."""


@dataclass
class SyncPlan:
    local: Manifest  # every file the workspace offers (after ignore rules and refusals)
    remote: Manifest  # the share's manifest before this sync
    upload: list[str]
    delete: list[str]
    refused: list[str]
    skipped: int
    allowed: list[str] = field(default_factory=list)  # secret-looking, sent: named in .ftkallow
    reasons: dict[str, str] = field(default_factory=dict)  # refused/allowed path -> why
    # Files sent whatever their content (new, or another size than the manifest says): hashed
    # by the upload workers, overlapping the network, not before the first upload starts.
    # Their `local` entries carry an empty sha256 until then.
    unhashed: dict[str, os.stat_result] = field(default_factory=dict)
    cache: StatCache | None = None

    @property
    def upload_bytes(self) -> int:
        return sum(self.local[p].size for p in self.upload)


@dataclass
class SyncResult:
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: int = 0
    refused: list[str] = field(default_factory=list)
    bytes: int = 0
    dry_run: bool = False
    allowed: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    swept: list[str] = field(default_factory=list)  # stale temporaries removed from the share

    def to_dict(self) -> dict[str, Any]:
        """The `ftk sync --json` shape."""
        return {
            "uploaded": self.uploaded,
            "deleted": self.deleted,
            "skipped": self.skipped,
            "refused": self.refused,
            "allowed": self.allowed,
            "bytes": self.bytes,
            "swept": self.swept,
        }


def share_workers(share: Share, workers: int | None = None) -> int:
    """Workers for requests to `share`: `workers` if given, else the share's `parallelism`."""
    return workers or share.parallelism or DEFAULT_WORKERS


def _hash_local(
    cache: StatCache, files: list[str], workers: int, remote: Manifest
) -> tuple[Manifest, dict[str, os.stat_result]]:
    """Size and sha256 of each file, and the files left unhashed because they are sent anyway
    (not in `remote`, or of another size: their hash is only needed for the manifest). A file
    deleted since the walk is left out (as if the sync had started a moment later)."""
    result: Manifest = {}
    unhashed: dict[str, os.stat_result] = {}
    misses: list[tuple[str, os.stat_result]] = []
    for rel in files:
        try:
            st = cache.stat(rel)
        except FileNotFoundError:
            continue
        digest = cache.lookup(rel, st)
        if digest is not None:
            result[rel] = Entry(st.st_size, digest)
        elif (known := remote.get(rel)) is None or known.size != st.st_size:
            unhashed[rel] = st
            result[rel] = Entry(st.st_size, "")
        else:
            misses.append((rel, st))
    if misses:

        def digest_of(rel: str) -> str | None:
            try:
                return sha256_file(cache.root / rel)
            except FileNotFoundError:
                return None

        # hashlib releases the GIL on large buffers, so threads help.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            digests = pool.map(digest_of, [rel for rel, _ in misses])
            for (rel, st), digest in zip(misses, digests, strict=True):
                if digest is not None:
                    cache.store(rel, st, digest)
                    result[rel] = Entry(st.st_size, digest)
    cache.prune(set(result))
    cache.save()
    return result, unhashed


def plan_sync(
    root: Path, share: Share, *, delete: bool = False, workers: int | None = None
) -> SyncPlan:
    """What a sync would do; reads the share's manifest, writes nothing to the share.

    `workers` hash the local files (CPU work: the share's hint does not apply)."""
    cache = StatCache(root)
    walked = Rules(root).walk(cache.checked(secret_reason))
    remote = read_manifest(share)
    local, unhashed = _hash_local(cache, walked.files, workers or DEFAULT_WORKERS, remote)
    upload = [p for p, e in local.items() if remote.get(p) != e]
    # A path that only changed case is the same file on a case-insensitive share: not stale.
    stale = sorted(set(remote) - set(local) - case_twins(remote, local)) if delete else []
    return SyncPlan(
        local=local,
        remote=remote,
        upload=sorted(upload),
        delete=stale,
        refused=walked.refused,
        skipped=len(local) - len(upload),
        allowed=walked.allowed,
        reasons=walked.reasons,
        unhashed=unhashed,
        cache=cache,
    )


def dry_run_result(plan: SyncPlan) -> SyncResult:
    """What carrying out `plan` would report."""
    return SyncResult(
        uploaded=plan.upload,
        deleted=plan.delete,
        skipped=plan.skipped,
        refused=plan.refused,
        bytes=plan.upload_bytes,
        dry_run=True,
        allowed=plan.allowed,
        reasons=plan.reasons,
    )


def _dirs_to_create(upload: list[str], existing_files: Manifest) -> list[list[str]]:
    """Missing directories, grouped by depth, shallowest first (each group sorted)."""
    levels: dict[int, list[str]] = {}
    for d in sorted(_parents(upload) - _parents(existing_files)):
        levels.setdefault(d.count("/"), []).append(d)
    return [levels[depth] for depth in sorted(levels)]


def _run_pool(
    items: list[str], work: Callable[[str], None], workers: int, done: Callable[[str], None]
) -> None:
    """Run `work` over items in a bounded pool; on the first failure cancel what has not started."""
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures: dict[Future[None], str] = {pool.submit(work, it): it for it in items}
        for fut in as_completed(futures):
            fut.result()
            done(futures[fut])
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _parents(paths: list[str] | Manifest) -> set[str]:
    out: set[str] = set()
    for p in paths:
        out.update(str(d) for d in PurePosixPath(p).parents if str(d) != ".")
    return out


def _sweep(share: Share, plan: SyncPlan, workers: int) -> list[str]:
    """Remove stale temporaries from every folder a sync of this workspace writes to."""
    folders = sorted({"", ".ftk"} | _parents(list(plan.local)) | _parents(plan.remote))
    removed: list[str] = []

    def one(folder: str) -> None:
        with contextlib.suppress(Exception):  # best effort: a leftover is invisible anyway
            removed.extend(share.sweep_temporaries(folder, STALE_AFTER_S))

    _run_pool(folders, one, workers, lambda _: None)
    return sorted(removed)


def run_sync(
    root: Path,
    share: Share,
    plan: SyncPlan,
    *,
    workers: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Carry out a plan made by `plan_sync`; `workers` defaults to the share's hint."""
    workers = share_workers(share, workers)
    result = SyncResult(
        skipped=plan.skipped, refused=plan.refused, allowed=plan.allowed, reasons=plan.reasons
    )
    if not plan.upload and not plan.delete:
        return result

    manifest: Manifest = dict(plan.remote)
    overwritten = [p for p in plan.upload if p in manifest]
    if overwritten:
        for p in overwritten:
            del manifest[p]
        write_manifest(share, manifest)

    # Each level waits for the one above it; within a level the creates are independent.
    for level in _dirs_to_create(plan.upload, plan.remote):
        _run_pool(level, share.make_dirs, workers, lambda _: None)

    vanished: set[str] = set()
    hashed: dict[str, Entry] = {}

    def upload(rel: str) -> None:
        try:
            if (st := plan.unhashed.get(rel)) is not None:
                digest = sha256_file(root / rel)
                hashed[rel] = Entry(st.st_size, digest)
                if plan.cache is not None:
                    plan.cache.store(rel, st, digest)
            share.upload_file(root / rel, rel)
        except FileNotFoundError:
            if (root / rel).exists():
                raise
            vanished.add(rel)  # deleted since the plan: left out, like a file deleted before

    def uploaded(rel: str) -> None:
        if rel in vanished:
            return
        entry = hashed.get(rel) or plan.local[rel]
        size = entry.size
        manifest[rel] = entry
        result.uploaded.append(rel)
        result.bytes += size
        if on_progress:
            on_progress(rel, size)

    def deleted(rel: str) -> None:
        manifest.pop(rel, None)
        result.deleted.append(rel)

    try:
        _run_pool(plan.upload, upload, workers, uploaded)
        _run_pool(plan.delete, share.delete, workers, deleted)
    except BaseException as exc:
        # What did arrive, so a re-run sends only the rest; report the original failure.
        with contextlib.suppress(Exception):
            write_manifest(share, manifest)
        with contextlib.suppress(OSError):
            if plan.cache is not None:
                plan.cache.save()
        if isinstance(exc, FtkError | KeyboardInterrupt) or not isinstance(exc, Exception):
            raise
        raise UnavailableError(
            f"sync stopped: {exc}",
            hint="run `ftk sync` again; files that arrived are not sent twice",
        ) from exc

    write_manifest(share, manifest)
    if plan.cache is not None:
        with contextlib.suppress(OSError):  # a cache that cannot be written costs a re-hash
            plan.cache.save()
    result.uploaded.sort()
    result.deleted.sort()
    result.swept = _sweep(share, plan, workers)
    return result


def sync(
    root: Path,
    share: Share,
    *,
    dry_run: bool = False,
    delete: bool = False,
    workers: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Plan and (unless `dry_run`) carry out an incremental sync of `root` to `share`.

    `workers` (default: the share's `parallelism` hint) bounds the concurrent requests."""
    plan = plan_sync(root, share, delete=delete, workers=workers)
    if dry_run:
        return dry_run_result(plan)
    return run_sync(root, share, plan, workers=workers, on_progress=on_progress)
