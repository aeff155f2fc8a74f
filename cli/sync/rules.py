"""Which workspace files a sync sends: gitignore-syntax ignore rules, then secret-file refusal.

Rules come from built-in defaults, then the project's root `.gitignore`, then its `.ftkignore`
(later lines win, `!` negates, as in git). A file inside an ignored directory cannot be re-included,
as in git, because ignored directories are never walked.

Refusal is a separate step that ignore rules cannot undo: a file that looks like a secret
(`cli.sync.secrets`) is refused even when a `!` line re-includes it. Only a line in the root
`.ftkallow` naming that one file (its exact path, no wildcards) sends it, and every sync then
reports it: shipping a secret to a share that a job mounts must be a deliberate, visible act.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from cli.errors import UsageError
from cli.sync.names import check_names
from cli.sync.secrets import secret_reason
from contract.layout import MODEL_CACHE_DIR, RUNS_DIR

ALLOW_FILE = ".ftkallow"
_WILDCARDS = frozenset("*?[")

# The share's own top-level folders: ftk's state (manifest, requests, claims, envs, sweeps) and the
# job's outputs (trained runs, downloaded base models). Sync never sends a workspace path under them
# and never deletes a share path under them. This is a rule, not an ignore line, so no `!/runs/`
# in .gitignore/.ftkignore (TensorBoard logs to `./runs/` by default) can undo it. Matched without
# case: Azure Files names are case-insensitive, so a local `Runs/` is the share's `runs/`.
PROTECTED_DIRS = (".ftk", RUNS_DIR, MODEL_CACHE_DIR)
_PROTECTED = frozenset(d.lower() for d in PROTECTED_DIRS)


def is_protected(rel: str) -> bool:
    """Whether the share path `rel` belongs to ftk or the job (`.ftk/`, `runs/`, `model-cache/`)."""
    return rel.split("/", 1)[0].lower() in _PROTECTED


# `training/` and `inference/` must never appear here: the job runs them from the share.
DEFAULT_IGNORES = (
    ".git/",
    ".venv/",
    "venv/",
    "__pycache__/",
    "*.pyc",
    ".pytest_cache/",
    ".ruff_cache/",
    ".mypy_cache/",
    ".DS_Store",
    ".env/",  # a virtualenv folder named like the env file (the file `.env` is refused instead)
)


@dataclass(frozen=True)
class WalkResult:
    files: list[str]  # posix paths relative to the root, sorted (allowed secrets included)
    refused: list[str]  # secret-looking files that `.ftkallow` does not name
    allowed: list[str] = field(default_factory=list)  # secret-looking files `.ftkallow` names
    reasons: dict[str, str] = field(default_factory=dict)  # refused or allowed path -> why


def _read_lines(path: Path) -> list[str]:
    """The lines of a rules file (`.gitignore`, `.ftkignore`, `.ftkallow`); none if it is missing.

    Read as git reads `.gitignore`: bytes, a UTF-8 byte-order mark skipped. A byte that is not
    UTF-8 (a Latin-1 `é`) is kept as the same byte (surrogateescape, as Python decodes file names
    on POSIX), so such a pattern matches the file whose name has that byte, as in git, instead of
    failing every sync. A file saved as UTF-16 with its byte-order mark (Windows PowerShell 5's
    `>`), which git cannot read, is decoded as UTF-16 rather than matching nothing."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise UsageError(
            f"cannot read {path.name}: {exc.strerror or exc}", hint=f"check {path}"
        ) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").splitlines()
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"{path.name} starts with a UTF-16 byte-order mark but is not UTF-16 text",
                hint=f"save {path.name} as UTF-8",
            ) from exc
    return data.decode("utf-8-sig", errors="surrogateescape").splitlines()


def read_allow_file(root: Path) -> set[str]:
    """The paths `.ftkallow` names: one workspace-relative file per line, `#` comments.

    A line with a wildcard is an error, not a pattern: each secret is allowed by its own name."""
    allowed: set[str] = set()
    for number, raw in enumerate(_read_lines(root / ALLOW_FILE), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _WILDCARDS & set(line) or line.startswith("!") or line.endswith("/"):
            raise UsageError(
                f"{ALLOW_FILE} line {number}: '{line}' is not one file's path",
                hint="name each file to send on its own line, e.g. certs/public.pem",
            )
        allowed.add(line.removeprefix("./").lstrip("/"))
    return allowed


class Rules:
    """Ignore and refusal decisions for one workspace root."""

    def __init__(self, root: Path):
        self.root = root
        ftkignore = _read_lines(root / ".ftkignore")
        lines = [*DEFAULT_IGNORES, *_read_lines(root / ".gitignore"), *ftkignore]
        self._ignore = pathspec.GitIgnoreSpec.from_lines(lines)
        self._allowed = read_allow_file(root)

    def ignored(self, rel: str, *, is_dir: bool = False) -> bool:
        return self._ignore.match_file(rel + "/" if is_dir else rel)

    def walk(self, reason: Callable[[Path, str], str | None] = secret_reason) -> WalkResult:
        """The files to send and the refused ones; `reason` is the secret check (the sync engine
        passes one that skips files unchanged since the last sync)."""
        files: list[str] = []
        refused: list[str] = []
        allowed: list[str] = []
        reasons: dict[str, str] = {}
        for rel in self._iter_files():
            why = reason(self.root, rel)
            if why is None:
                files.append(rel)
                continue
            reasons[rel] = why
            if rel in self._allowed:
                allowed.append(rel)
                files.append(rel)
            else:
                refused.append(rel)
        check_names(files)  # before any upload: names Azure Files refuses, or folds together
        return WalkResult(sorted(files), sorted(refused), sorted(allowed), reasons)

    def _iter_files(self) -> Iterator[str]:
        root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(root):
            base = os.path.relpath(dirpath, root).replace(os.sep, "/")
            prefix = "" if base == "." else base + "/"
            kept = []
            for d in dirnames:
                if os.path.islink(os.path.join(dirpath, d)):
                    continue  # never follow links out of the workspace
                if is_protected(prefix + d):
                    continue  # the share's own folders: never sent, whatever the ignore rules say
                if not self.ignored(prefix + d, is_dir=True):
                    kept.append(d)
            dirnames[:] = sorted(kept)
            for f in filenames:
                rel = prefix + f
                full = os.path.join(dirpath, f)
                if os.path.islink(full) or not os.path.isfile(full) or is_protected(rel):
                    continue
                if not self.ignored(rel):
                    yield rel
