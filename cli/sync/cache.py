"""A local stat cache (size, mtime_ns -> sha256) so unchanged files are not re-hashed.

Kept in `<project>/.ftk/sync-cache.json`. It only describes local files, so one cache serves every
target. A damaged cache is ignored (everything is re-hashed), never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

CACHE_FILE = Path(".ftk") / "sync-cache.json"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class StatCache:
    def __init__(self, project_dir: Path):
        self.path = project_dir / CACHE_FILE
        self._entries: dict[str, list] = {}
        self._dirty = False
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == 1 and isinstance(data.get("files"), dict):
                self._entries = data["files"]

    def lookup(self, rel: str, st: os.stat_result) -> str | None:
        entry = self._entries.get(rel)
        if entry and entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
            return entry[2]
        return None

    def store(self, rel: str, st: os.stat_result, sha256: str) -> None:
        self._entries[rel] = [st.st_size, st.st_mtime_ns, sha256]
        self._dirty = True

    def prune(self, keep: set[str]) -> None:
        stale = set(self._entries) - keep
        for rel in stale:
            del self._entries[rel]
        self._dirty = self._dirty or bool(stale)

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"version": 1, "files": self._entries}), encoding="utf-8")
        os.replace(tmp, self.path)
        self._dirty = False
