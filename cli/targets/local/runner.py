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

It is run by path, not with `-m`: its working folder is the share, whose synced `training/` the
command must import, so ftk's own root goes on the runner's `sys.path` only, never in the
environment the command inherits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _event(state: Path, text: str) -> None:
    with (state / "events.log").open("a", encoding="utf-8") as fh:
        fh.write(f"{now_iso()}\t{text}\n")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: runner.py STATE_DIR -- COMMAND...", file=sys.stderr)
        return 2
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
        )
    except OSError as exc:
        _event(state, f"could not start: {exc}")
        _write_json(state / "exit.json", {"exit_code": 127, "ended_at": now_iso()})
        return 127
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
