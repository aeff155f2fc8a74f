"""At most one live trainer per run: the trainer holds an exclusive `flock` on `<run>/.lock`.

`python -m training` takes it before it touches the run (`hold`), and keeps it for its lifetime;
the kernel drops it when the process ends, however it ends (`kill -9` included), so a lock never
outlives its trainer and nothing has to clean it up. A second trainer on the same run is refused
before it changes the run's status. The local target asks `holder()` before it starts an
execution, so `ftk run` / `ftk resume` refuse while a trainer lives.

The file holds the holder's pid, for messages only. A file system without `flock` support (some
network shares) is reported once and then trained on without the lock, as before it existed.
No torch here: the CLI imports this module.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from contract.layout import RUN_LOCK_FILE

log = logging.getLogger("training")

_BUSY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)


class RunBusy(Exception):
    """Another live process holds the run's lock."""

    def __init__(self, run_folder: Path, pid: int | None):
        super().__init__(f"run folder {run_folder} is in use by another trainer ({describe(pid)})")
        self.pid = pid


def describe(pid: int | None) -> str:
    return f"pid {pid}" if pid else "pid unknown"


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip()) or None
    return None


def _try_lock(fd: int) -> bool | None:
    """True: locked; False: another process holds it; None: no flock on this file system."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _BUSY:
            return False
        log.warning("run lock unavailable here (%s); not guarding against a second trainer", exc)
        return None
    return True


@contextlib.contextmanager
def hold(run_folder: Path) -> Iterator[None]:
    """Hold the run's lock for the duration; raises RunBusy if a live process holds it."""
    run_folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_folder / RUN_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        locked = _try_lock(fd)
        if locked is False:
            raise RunBusy(run_folder, _read_pid(fd))
        if locked:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def holder(run_folder: Path) -> int | None:
    """The pid of the live process holding the run's lock (0 if it wrote none yet), else None.

    Probes with a non-blocking lock that is released at once.
    """
    try:
        fd = os.open(run_folder / RUN_LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            return (_read_pid(fd) or 0) if exc.errno in _BUSY else None
        return None
    finally:
        os.close(fd)
