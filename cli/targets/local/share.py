"""A `Share` over a local folder, with atomic writes (temporary name, then `os.replace`).

Uploads keep the source file's permission bits (a 0600 file stays 0600 on the share), and the
temporary is created 0600 so its content is never readable by others, even for a moment.
Temporary names come from `cli.targets.temps` (fixed length, so they fit wherever the real name
fits); `sweep_temporaries` removes the stale ones an interrupted sync left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from cli.errors import NotFoundError, UsageError
from cli.targets.base import RemoteFile
from cli.targets.temps import is_temporary, temporary_name


class LocalShare:
    parallelism = 8  # a local disk gains little from more concurrent writes

    def __init__(self, root: Path):
        self.root = root
        self.local_root: Path | None = root

    def _path(self, rel: str) -> Path:
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            raise UsageError(f"path outside the share: {rel}")
        return self.root.joinpath(*pure.parts)

    def list_files(self, prefix: str = "") -> Iterator[RemoteFile]:
        base = self._path(prefix) if prefix else self.root
        if base.is_file():
            yield RemoteFile(prefix, base.stat().st_size)
            return
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if is_temporary(name):
                    continue
                full = Path(dirpath) / name
                rel = full.relative_to(self.root).as_posix()
                try:
                    info = full.stat()
                except FileNotFoundError:  # a dangling symlink, or removed while listing:
                    continue  # no file to read, so none to list (Azure Files has no links)
                if stat.S_ISREG(info.st_mode):
                    yield RemoteFile(rel, info.st_size)

    def read_bytes(self, path: str) -> bytes:
        try:
            return self._path(path).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no such file on the share: {path}") from None

    def exists(self, path: str) -> bool:
        return self._path(path).exists()

    def make_dirs(self, path: str) -> None:
        self._path(path).mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _tmp(dest: Path) -> Path:
        return dest.with_name(PurePosixPath(temporary_name(dest.name)).name)

    def upload_file(self, local: Path, path: str) -> None:
        dest = self._path(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp(dest)
        try:
            mode = stat.S_IMODE(local.stat().st_mode) & 0o777
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            shutil.copyfile(local, tmp)  # into the 0600 file: same inode, same mode
            os.chmod(tmp, mode)  # exactly the source's bits, whatever the umask
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def write_bytes(self, path: str, data: bytes) -> None:
        dest = self._path(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp(dest)
        try:
            tmp.write_bytes(data)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def download_file(self, path: str, local: Path) -> None:
        try:
            shutil.copyfile(self._path(path), local)
        except FileNotFoundError:
            raise NotFoundError(f"no such file on the share: {path}") from None

    def delete(self, path: str) -> None:
        self._path(path).unlink(missing_ok=True)

    def sweep_temporaries(self, directory: str, older_than: float) -> list[str]:
        """Remove temporaries in `directory` not written for `older_than` seconds (by mtime)."""
        base = self._path(directory) if directory else self.root
        removed: list[str] = []
        now = time.time()
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(base):
                if not is_temporary(entry.name) or not entry.is_file(follow_symlinks=False):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if now - entry.stat(follow_symlinks=False).st_mtime >= older_than:
                        os.unlink(entry.path)
                        removed.append(PurePosixPath(directory, entry.name).as_posix())
        return sorted(removed)
