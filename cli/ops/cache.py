"""`ftk cache`: the dependency sets the job and the app built on the share (bootstrap.envs).

A set is current when the lock it was built from (its `lock.txt`) is byte for byte one of the
project's lock files; prune removes the others. Build folders (`.build-*`) are a build in
progress or a killed one: no listing can tell which, so they go only with `include_builds`.
Removal deletes a set's `.complete` marker first, so a start that races the prune never takes a
half-deleted set for a whole one (it rebuilds instead).
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from bootstrap.envs import COMPLETE, LOCK_COPY, EnvInfo, summarize
from cli.targets.base import Share
from contract.commands import SERVE_LOCK, TRAIN_LOCK
from contract.layout import ENVS_DIR


def list_envs(share: Share) -> list[EnvInfo]:
    return summarize(((f.path, f.size) for f in share.list_files(ENVS_DIR)), ENVS_DIR)


def current_locks(project_dir: Path) -> set[bytes]:
    return {
        p.read_bytes() for p in (project_dir / TRAIN_LOCK, project_dir / SERVE_LOCK) if p.is_file()
    }


def is_current(share: Share, env: EnvInfo, locks: set[bytes]) -> bool:
    return env.complete and share.read_bytes(_path(env, LOCK_COPY)) in locks


def stale(share: Share, project_dir: Path, *, include_builds: bool = False) -> list[EnvInfo]:
    """The sets prune would remove, with their sizes."""
    locks = current_locks(project_dir)
    return [
        env
        for env in list_envs(share)
        if (include_builds if env.building else not is_current(share, env, locks))
    ]


def remove(share: Share, env: EnvInfo) -> None:
    marker = _path(env, COMPLETE)
    if marker in env.files:
        share.delete(marker)
    for path in env.files:
        if path != marker:
            share.delete(path)


def _path(env: EnvInfo, name: str) -> str:
    return posixpath.join(ENVS_DIR, env.name, name)
