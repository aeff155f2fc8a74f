"""The small wrapper that runs one `--local` process (a training execution, the inference server)
and records how it ended.

    python cli/targets/local/runner.py STATE_DIR -- COMMAND...

The `Supervisor` starts it detached (its own session and process group). It copies the command's
output into `STATE_DIR/log`, one `<UTC ISO time>\\t<line>` per line (the timestamps serve
`ftk logs --since`), notes platform-like events in `STATE_DIR/events.log` (`--system`), records the
command's `ProcessId` in `STATE_DIR/child.json`, and writes `STATE_DIR/exit.json` when the
command ends, so `ftk ps` and `ftk logs` work from any shell. SIGTERM (from `ftk stop`, sent to the
whole group) is noted, not obeyed: the wrapper waits for the command to save its checkpoint and
exit, then records that exit code.

The command dies with its runner. On Linux the kernel sends it SIGTERM when the runner ends, however
the runner ends (`kill -9` included): PR_SET_PDEATHSIG, set between fork and exec. SIGTERM, not
SIGKILL, so a trainer saves a checkpoint as it does when `ftk stop` or ACA stops it. macOS has no
such call: there the command outlives a killed runner, and the supervisor keeps treating the
execution as running (by `child.json`) until it ends, so `ps`, `stop` and the run lock
(`training.spec.runlock`) still see it.

It is run by path, not with `-m`: its working folder is the share, whose synced `training/` the
command must import, so ftk's own root goes on the runner's `sys.path` only, never in the
environment the command inherits.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from cli.targets.local.supervisor import ProcessId
from contract.exit_codes import ExitCode

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _event(state: Path, text: str) -> None:
    with (state / "events.log").open("a", encoding="utf-8") as fh:
        fh.write(f"{now_iso()}\t{text}\n")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive SIGTERM when this process ends (Linux only).

    libc is loaded here, before the fork, so the child only makes two system calls. If this
    process died between the fork and the prctl, the child's parent has already changed: it then
    stops itself at once rather than run unsupervised.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: runner.py STATE_DIR -- COMMAND...", file=sys.stderr)
        return ExitCode.USAGE
    state, command = Path(argv[0]), argv[2:]

    def on_term(signum: int, _frame: object) -> None:
        _event(state, f"received signal {signum}; waiting for the command to exit")

    # A Python-level handler (not SIG_IGN) so the child does not inherit "ignore SIGTERM".
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    _event(state, f"starting: {' '.join(command)}")
    try:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )
    except OSError as exc:
        _event(state, f"could not start: {exc}")
        _write_json(
            state / "exit.json", {"exit_code": int(ExitCode.NOT_STARTED), "ended_at": now_iso()}
        )
        return ExitCode.NOT_STARTED
    child = ProcessId.of(proc.pid)
    if child is not None:
        _write_json(state / "child.json", child.record())
    _event(state, f"started pid {proc.pid}")
    assert proc.stdout is not None
    with (state / "log").open("a", encoding="utf-8", buffering=1) as log:
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            line = line.rsplit("\r", 1)[-1]  # progress bars redraw with \r: keep the last state
            log.write(f"{now_iso()}\t{line}\n")
    code = proc.wait()
    _event(state, f"exited with code {code}")
    _write_json(state / "exit.json", {"exit_code": code, "ended_at": now_iso()})
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
