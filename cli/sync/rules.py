"""Which workspace files a sync sends: gitignore-syntax ignore rules and secret-file refusal.

Rules come from built-in defaults, then the project's root `.gitignore`, then its `.ftkignore`
(later lines win, `!` negates, as in git). A file inside an ignored directory cannot be re-included,
as in git, because ignored directories are never walked.

Files that look like secrets (`.env*`, keys, certificates, credential JSONs) are refused even when
no rule ignores them, unless a `!` negation in `.ftkignore` names them: shipping a secret to a
share that a job mounts must be a deliberate act.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

# `.ftk/` and `runs/` are anchored: they are the share's own folders (manifest, run outputs) at the
# root. `training/` and `inference/` must never appear here: the job runs them from the share.
DEFAULT_IGNORES = (
    ".git/",
    ".venv/",
    "venv/",
    "__pycache__/",
    "*.pyc",
    ".pytest_cache/",
    ".ruff_cache/",
    ".mypy_cache/",
    "/.ftk/",
    "/runs/",
    "/model-cache/",
    ".DS_Store",
)

SECRET_PATTERNS = (
    ".env*",
    "*.pem",
    "*.key",
    "*.pfx",
    "*.p12",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pypirc",
    "*credential*.json",
    "*credentials*.json",
    "client_secret*.json",
    "service-account*.json",
    "service_account*.json",
)


@dataclass(frozen=True)
class WalkResult:
    files: list[str]  # posix paths relative to the root, sorted
    refused: list[str]  # secret-looking files that were not explicitly allowed


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


class Rules:
    """Ignore and refusal decisions for one workspace root."""

    def __init__(self, root: Path):
        self.root = root
        ftkignore = _read_lines(root / ".ftkignore")
        lines = [*DEFAULT_IGNORES, *_read_lines(root / ".gitignore"), *ftkignore]
        self._ignore = pathspec.GitIgnoreSpec.from_lines(lines)
        self._secret = pathspec.GitIgnoreSpec.from_lines(SECRET_PATTERNS)
        allowed = [ln.strip()[1:] for ln in ftkignore if ln.strip().startswith("!")]
        self._allowed_secrets = pathspec.GitIgnoreSpec.from_lines(allowed)

    def ignored(self, rel: str, *, is_dir: bool = False) -> bool:
        return self._ignore.match_file(rel + "/" if is_dir else rel)

    def refused(self, rel: str) -> bool:
        return self._secret.match_file(rel) and not self._allowed_secrets.match_file(rel)

    def walk(self) -> WalkResult:
        files: list[str] = []
        refused: list[str] = []
        for rel in self._iter_files():
            (refused if self.refused(rel) else files).append(rel)
        return WalkResult(sorted(files), sorted(refused))

    def _iter_files(self) -> Iterator[str]:
        root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(root):
            base = os.path.relpath(dirpath, root).replace(os.sep, "/")
            prefix = "" if base == "." else base + "/"
            kept = []
            for d in dirnames:
                if os.path.islink(os.path.join(dirpath, d)):
                    continue  # never follow links out of the workspace
                if not self.ignored(prefix + d, is_dir=True):
                    kept.append(d)
            dirnames[:] = sorted(kept)
            for f in filenames:
                rel = prefix + f
                full = os.path.join(dirpath, f)
                if os.path.islink(full) or not os.path.isfile(full):
                    continue
                if not self.ignored(rel):
                    yield rel
