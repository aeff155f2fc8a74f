"""A local stat cache so that unchanged files are neither re-hashed nor re-read.

Kept in `<project>/.ftk/sync-cache.json`. Per file it remembers, keyed by (size, mtime_ns):
- the sha256 of its content (`files`), so an unchanged file is not hashed again;
- the secret check's verdict (`scan`: the reason, or null for an ordinary file), so an unchanged
  file is not read again for the content rules. Verdicts are only trusted when they came from the
  same rules: `scanner` is a digest of the sync package's own source, so a new ftk version (or a
  changed rule) re-checks every file once.
It only describes local files, so one cache serves every target. A damaged cache is ignored
(everything is re-hashed and re-checked), never an error.

Like rsync's default quick check, a file rewritten with the same size within the same mtime tick
counts as unchanged; editors and `git checkout` change one or the other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

CACHE_FILE = Path(".ftk") / "sync-cache.json"
_CHUNK = 1 << 20

Reason = Callable[[Path, str], "str | None"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@cache
def scanner_id() -> str:
    """A digest of the source of `cli.sync` (its rules, secret patterns and this cache)."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


class StatCache:
    def __init__(self, project_dir: Path):
        self.root = project_dir
        self.path = project_dir / CACHE_FILE
        self._entries: dict[str, list] = {}
        self._scan: dict[str, list] = {}
        self._stats: dict[str, os.stat_result] = {}  # this sync's stat of each checked file
        self._dirty = False
        with contextlib.suppress(OSError, ValueError, AttributeError):
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == 1 and isinstance(data.get("files"), dict):
                self._entries = data["files"]
            if data.get("scanner") == scanner_id() and isinstance(data.get("scan"), dict):
                self._scan = data["scan"]

    def stat(self, rel: str) -> os.stat_result:
        """The file's stat, taken once per sync (FileNotFoundError when it is gone)."""
        st = self._stats.get(rel)
        if st is None:
            st = self._stats[rel] = (self.root / rel).stat()
        return st

    def checked(self, reason: Reason) -> Reason:
        """`reason` (the secret check), run only for files whose size or mtime changed."""

        def check(root: Path, rel: str) -> str | None:
            try:
                st = self.stat(rel)
            except OSError:
                return reason(root, rel)  # gone or unreadable: the check decides, uncached
            entry = self._scan.get(rel)
            if entry and entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
                return entry[2]
            why = reason(root, rel)
            self._scan[rel] = [st.st_size, st.st_mtime_ns, why]
            self._dirty = True
            return why

        return check

    def lookup(self, rel: str, st: os.stat_result) -> str | None:
        entry = self._entries.get(rel)
        if entry and entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
            return entry[2]
        return None

    def store(self, rel: str, st: os.stat_result, sha256: str) -> None:
        self._entries[rel] = [st.st_size, st.st_mtime_ns, sha256]
        self._dirty = True

    def prune(self, keep: set[str]) -> None:
        """Forget hashes of files not in `keep`, and verdicts of files not checked this sync."""
        for entries, kept in ((self._entries, keep), (self._scan, self._stats.keys())):
            stale = set(entries) - kept
            for rel in stale:
                del entries[rel]
            self._dirty = self._dirty or bool(stale)

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        body = {"version": 1, "files": self._entries, "scanner": scanner_id(), "scan": self._scan}
        tmp.write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp, self.path)
        self._dirty = False
