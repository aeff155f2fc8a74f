"""Stands in for `python -m training` in tests of the local target (no torch, instant).

    python -m testkit.fakes.train MODE --config RUNS/<run>/config.yaml
MODE: succeed (writes an adapter and results), fail (exit 1), wait (until SIGTERM, then exit 75).
Like the real entry point, it holds the run's lock (`training.spec.runlock`) while it lives.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # ftk's root (cwd is the share)
from contract.exit_codes import ExitCode
from training.spec import runlock

mode, config = sys.argv[1], Path(sys.argv[3])
run_dir = config.parent
lock = runlock.hold(run_dir)
lock.__enter__()  # released when this process ends, as the real trainer's is
print(f"fake training {os.environ['FTK_RUN_ID']} in {os.getcwd()}", flush=True)
print(f"pid {os.getpid()}", flush=True)
print(f"model cache {os.environ['FTK_MODEL_CACHE']}", flush=True)
(run_dir / "status").write_text("running")

if mode == "fail":
    print("Traceback: something broke", flush=True)
    (run_dir / "status").write_text("failed")
    sys.exit(ExitCode.FAILED)

if mode == "wait":

    def on_term(signum, frame):
        (run_dir / "status").write_text("resumable")  # as training does once it has saved
        print("SIGTERM: saving checkpoint", flush=True)
        sys.exit(ExitCode.RESUMABLE)

    signal.signal(signal.SIGTERM, on_term)
    print("waiting for a signal", flush=True)
    while True:
        time.sleep(0.05)

for step in (1, 2):
    print(f"step {step} loss {3 - step}.0", flush=True)
adapter = run_dir / "adapter"
adapter.mkdir(exist_ok=True)
(adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "tiny-base"}))
(adapter / "adapter_model.safetensors").write_bytes(b"\0" * 2048)
(run_dir / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.0}\n')
(run_dir / "summary.json").write_text('{"steps": 2}')
(run_dir / "loss.png").write_bytes(b"\x89PNG fake")
(run_dir / "status").write_text("succeeded")
print("done", flush=True)
