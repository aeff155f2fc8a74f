"""The share's manifest: what the last complete sync wrote, `.ftk/manifest.json`.

`{"version": 1, "files": {"path": {"size": N, "sha256": "..."}}}`. It is written last, so after an
interrupted sync it still describes files that are really there.

Entries under the share's own folders (`.ftk/`, `runs/`, `model-cache/`: `rules.is_protected`) are
dropped when it is read: an older ftk, whose protection was a negatable ignore line, may have listed
them, and `--delete` must never remove what the job wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cli.errors import NotFoundError
from cli.sync.rules import is_protected
from cli.targets.base import Share
from contract.layout import MANIFEST as MANIFEST_PATH


@dataclass(frozen=True)
class Entry:
    size: int
    sha256: str


Manifest = dict[str, Entry]


def read_manifest(share: Share) -> Manifest:
    """The share's manifest; empty when there is none yet or it cannot be parsed."""
    try:
        body = share.read_bytes(MANIFEST_PATH)  # one request when there is one (every re-sync)
    except NotFoundError:
        share.exists(MANIFEST_PATH)  # no manifest, or no share: that one raises, naming it
        return {}
    try:
        data = json.loads(body)
        files = data["files"] if data.get("version") == 1 else {}
        return {
            p: Entry(int(e["size"]), str(e["sha256"]))
            for p, e in files.items()
            if not is_protected(p)
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}  # a damaged manifest only costs a full re-upload


def write_manifest(share: Share, manifest: Manifest) -> None:
    files = {p: {"size": e.size, "sha256": e.sha256} for p, e in sorted(manifest.items())}
    body = json.dumps({"version": 1, "files": files}, indent=1).encode()
    share.make_dirs(".ftk")
    share.write_bytes(MANIFEST_PATH, body)
