"""One installed dependency set per lock file, built once on the share and reused after.

Layout under the root (default `<share>/.ftk/envs`, `contract.layout.ENVS_DIR`):

    <lock stem>-<key>/site-packages/  the packages (`pip install --target`), put on PYTHONPATH
    <lock stem>-<key>/.complete    written last, before the folder gets its name
    .build-<lock stem>-<key>-<id>/ a build in progress (or one that was killed)
    <lock stem>-<key>/site-packages.tar  the same packages as one file (with `local`)

With `local` (FTK_LOCAL_ENVS, set on Azure), the set is used from local disk: its archive, one
sequential read over SMB, is unpacked into `<local>/<lock stem>-<key>/` (published the same way),
instead of Python opening thousands of small files on the share at every start. The archive is
written once, by the first start that needs it, to a private name and renamed into place.

`key` hashes the lock's bytes with the interpreter's version and machine, so a changed lock (or a
new image Python) gets a new set, and an old one stays until `ftk cache prune` removes it.

Publishing is a rename of a fully built private folder: a half-built set never carries the final
name. Two first starts racing both build; the first rename wins, the loser finds the winner's
complete folder and deletes its own build. No lock is taken: `flock` over SMB (Azure Files) is not
guaranteed, while a directory rename onto a non-empty directory fails on POSIX and on SMB alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# The folder's name must contain "site-packages": dill (which datasets uses to fingerprint a
# dataset) pickles a module by reference only if its file lies under sys.prefix or a path
# containing "site-packages", and pickling pyarrow by value fails (dill/_dill.py
# `_is_builtin_module`; found by benchmarks/coldstart.py with a folder named `site`).
SITE = "site-packages"
COMPLETE = ".complete"
LOCK_COPY = "lock.txt"  # the lock a set was built from, beside it
BUILD_PREFIX = ".build-"
ARCHIVE = "site-packages.tar"  # inside a set's folder, so pruning the set removes it too

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def env_name(lock: Path) -> str:
    """`<lock stem>-<16 hex>`: the lock's bytes, the Python version and the machine."""
    digest = hashlib.sha256(lock.read_bytes())
    digest.update(f"{sys.implementation.name}{sys.version_info[:2]}{platform.machine()}".encode())
    return f"{lock.stem}-{digest.hexdigest()[:16]}"


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE).is_file() and (folder / SITE).is_dir()


class BuildError(RuntimeError):
    """The lock's dependency set could not be built; the installer has said why on stderr."""


def pip_install(lock: Path, target: Path, extra: Sequence[str] = ()) -> None:
    """Install exactly the lock (hashes checked, no resolution) into `target`; `BuildError`
    when pip fails (its own message, e.g. a hash that does not match, is already printed)."""
    try:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--no-deps", "--require-hashes",
                "--no-input", "--disable-pip-version-check", "-q",
                "--target", str(target), "-r", str(lock), *extra,
            ],
            check=True,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"pip exited {exc.returncode} installing {lock.name}") from None


def ensure(
    lock: Path,
    root: Path,
    *,
    installer: Callable[[Path, Path], None] = pip_install,
    log: Log = _stderr,
    prebuilt: Path | None = None,
    local: Path | None = None,
) -> Path:
    """The `site-packages` folder of the lock's dependency set: the image's own (under
    `prebuilt`) when it was built from this very lock, else the one under `root`, built first if
    missing; with `local`, that one's copy unpacked on local disk."""
    name = env_name(lock)
    if prebuilt is not None and is_complete(prebuilt / name):
        log(f"using the image's {name}")
        return prebuilt / name / SITE
    final = root / name
    if is_complete(final):
        log(f"reusing {name}")
        return final / SITE if local is None else _local_copy(final, local / name, log)
    root.mkdir(parents=True, exist_ok=True)
    build = root / f"{BUILD_PREFIX}{name}-{uuid.uuid4().hex[:12]}"
    log(f"building {name} from {lock.name} (first start with this lock)")
    started = time.monotonic()
    try:
        build.mkdir()
        installer(lock, build / SITE)
        shutil.copyfile(lock, build / LOCK_COPY)
        marker = {"lock": lock.name, "python": sys.version.split()[0], "built_at": time.time()}
        (build / COMPLETE).write_text(json.dumps(marker))
        _publish(build, final)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    log(f"{name} ready in {time.monotonic() - started:.0f} s")
    return final / SITE if local is None else _local_copy(final, local / name, log)


def _local_copy(shared: Path, local: Path, log: Log) -> Path:
    """`shared`'s packages unpacked into `local` from its archive (made first if missing); the
    shared folder itself, with a log line, if that fails (no room, a read-only share, ...)."""
    if is_complete(local):
        log(f"using {local.name} unpacked on local disk")
        return local / SITE
    started = time.monotonic()
    unpack = local.parent / f"{BUILD_PREFIX}{local.name}-{uuid.uuid4().hex[:12]}"
    try:
        archive = shared / ARCHIVE
        if not archive.is_file():
            _make_archive(shared, archive)
        unpack.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(unpack, filter="data")
        (unpack / COMPLETE).write_text(json.dumps({"from": str(archive), "at": time.time()}))
        _publish(unpack, local)
    except (OSError, tarfile.TarError) as exc:
        log(f"using {shared.name} on the share: unpacking it locally failed ({exc})")
        return shared / SITE
    finally:
        if unpack.exists():
            shutil.rmtree(unpack, ignore_errors=True)
    log(f"{local.name} unpacked to local disk in {time.monotonic() - started:.0f} s")
    return local / SITE


def _make_archive(shared: Path, archive: Path) -> None:
    """One uncompressed tar of the set's packages, written privately, then renamed into place
    (a racing start's archive is as good: the last rename wins)."""
    partial = shared / f".{ARCHIVE}.{uuid.uuid4().hex[:12]}"
    try:
        with tarfile.open(partial, "w") as tar:
            tar.add(shared / SITE, arcname=SITE)
        os.replace(partial, archive)
    finally:
        partial.unlink(missing_ok=True)


def _publish(build: Path, final: Path) -> None:
    """Rename `build` to `final`; if another start got there first with a complete set, keep
    theirs (the caller deletes `build`). A folder by that name without its marker (never made by
    ensure) is moved aside first."""
    if final.exists() and not is_complete(final):
        os.rename(final, final.parent / f"{BUILD_PREFIX}broken-{final.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(build, final)
    except OSError:
        if not is_complete(final):
            raise


@dataclass(frozen=True)
class EnvInfo:
    """One folder under the envs root, from a listing of its files (for `ftk cache`)."""

    name: str
    size: int
    files: tuple[str, ...]  # paths as listed, relative to the share
    complete: bool

    @property
    def building(self) -> bool:
        """A build in progress, or one that was killed (never used either way)."""
        return self.name.startswith(BUILD_PREFIX)


def summarize(files: Iterable[tuple[str, int]], root: str) -> list[EnvInfo]:
    """Group `(path, size)` under `root` by their folder directly below it, sorted by name."""
    grouped: dict[str, list[tuple[str, int]]] = {}
    for path, size in files:
        parts = PurePosixPath(path).relative_to(root).parts
        if len(parts) > 1:
            grouped.setdefault(parts[0], []).append((path, size))
    return [
        EnvInfo(
            name=name,
            size=sum(size for _, size in entries),
            files=tuple(path for path, _ in entries),
            complete=any(PurePosixPath(p).parts[-2:] == (name, COMPLETE) for p, _ in entries),
        )
        for name, entries in sorted(grouped.items())
    ]
