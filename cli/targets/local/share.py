"""A `Share` over a local folder, with atomic writes (temporary name, then `os.replace`)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from cli.errors import NotFoundError, UsageError
from cli.targets.base import RemoteFile

TMP_MARK = ".ftk-tmp-"


class LocalShare:
    def __init__(self, root: Path):
        self.root = root

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
                if TMP_MARK in name:
                    continue
                full = Path(dirpath) / name
                rel = full.relative_to(self.root).as_posix()
                yield RemoteFile(rel, full.stat().st_size)

    def read_bytes(self, path: str) -> bytes:
        try:
            return self._path(path).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no such file on the share: {path}") from None

    def exists(self, path: str) -> bool:
        return self._path(path).exists()

    def make_dirs(self, path: str) -> None:
        self._path(path).mkdir(parents=True, exist_ok=True)

    def _tmp(self, dest: Path) -> Path:
        return dest.with_name(f".{dest.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")

    def upload_file(self, local: Path, path: str) -> None:
        dest = self._path(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp(dest)
        try:
            shutil.copyfile(local, tmp)
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
