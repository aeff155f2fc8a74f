"""Cold and warm start of the job and the app, with the stack's own command lines.

    python benchmarks/coldstart.py                 # fresh image venv and share in a temp folder
    python benchmarks/coldstart.py --keep DIR      # keep (and reuse the image venv in) DIR

A fresh virtual environment holding only Python and torch stands for the image (`python -m venv`
+ `pip install torch==<version>`); a local folder stands for the share (the workspace's
`bootstrap/`, `contract/`, `training/`, `inference/` and lock files copied in, as `ftk sync` would).
The job's command line (`contract.commands.JOB_COMMANDS`, run as `bash -c`) trains a tiny random
model for a few steps, twice; the app's (`SERVE_COMMANDS`) runs until `/ready` answers 200, twice.
Set-up time is from the start of the command to its `training` phase line (job) or to `/ready`
(app). Target: second start at most 15% of the first and under 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract import env as ftk_env  # noqa: E402
from contract.commands import JOB_COMMANDS, SERVE_COMMANDS, bash_script  # noqa: E402
from contract.phases import Phase, parse_phase  # noqa: E402
from contract.requests import RunRequest, request_path  # noqa: E402

SHIPPED = ("bootstrap", "contract", "training", "inference")
LOCKS = ("requirements-train.lock", "requirements-serve.lock")
CONFIG = """model:
  name: {model}
data:
  train_file: data/train.jsonl
quantization:
  mode: none
lora:
  r: 4
  alpha: 8
train:
  max_steps: 2
  batch_size: 2
  max_length: 64
  gradient_checkpointing: false
  precision: fp32
  logging_steps: 1
  save_steps: 2
"""


def make_image(folder: Path, torch: str) -> Path:
    """A venv with only torch: the stand-in for the CUDA image. Returns its bin folder."""
    if not (folder / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, f"torch=={torch}"], check=True)
    return folder / "bin"


def make_share(share: Path) -> Path:
    """The workspace as `ftk sync` leaves it, a tiny model, a dataset and a training config."""
    from testkit.tiny_models import build_tiny_model

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SHIPPED:
        shutil.copytree(ROOT / name, share / name, ignore=ignore)
    for name in LOCKS:
        shutil.copy(ROOT / name, share / name)
    model = build_tiny_model(share / "models" / "tiny", "llama")
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"{i}+{i}?"},
                {"role": "assistant", "content": "x"},
            ]
        }
        for i in range(8)
    ]
    (share / "data").mkdir()
    (share / "data/train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (share / "tiny.yaml").write_text(CONFIG.format(model=model.relative_to(share)))
    return model


def container_env(image_bin: Path, share: Path, n: int) -> dict[str, str]:
    """A replica's environment: only the image's PATH, and an empty pip cache (a new replica's
    local disk has none)."""
    keep = {
        k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR", "PIP_CONFIG_FILE")
    }
    return {
        **keep,
        "PATH": f"{image_bin}:/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PIP_CACHE_DIR": str(share.parent / f"pip-cache-{n}"),
        **ftk_env.share_env(str(share)),
    }


def _watch(
    proc: subprocess.Popen, until: Phase | None, seen: threading.Event, log: Path, start: float
) -> None:
    """Copy the output to `log`; print when each phase line arrives (seconds from start)."""
    with log.open("a", buffering=1) as out:
        for line in proc.stdout:
            out.write(line)
            phase = parse_phase(line)
            if phase is not None:
                print(f"  {time.monotonic() - start:6.1f} s  {phase.label}", file=sys.stderr)
            if until is not None and phase is until:
                seen.set()


def run_job(image_bin: Path, share: Path, n: int, logs: Path) -> float:
    """One execution: leave a run request, run JOB_COMMANDS; seconds to its `training` line."""
    execution = f"bench-job-{n}"
    request = RunRequest(
        f"bench-{n}", requested_at=time.strftime("%Y-%m-%dT%H:%M:%SZ"), execution=execution
    )
    (share / request_path(execution)).parent.mkdir(parents=True, exist_ok=True)
    (share / request_path(execution)).write_bytes(request.to_bytes())
    (share / "runs" / f"bench-{n}").mkdir(parents=True, exist_ok=True)
    shutil.copy(share / "tiny.yaml", share / "runs" / f"bench-{n}" / "config.yaml")
    env = {**container_env(image_bin, share, n), ftk_env.EXECUTION_NAME: execution}
    seen = threading.Event()
    start = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "-c", bash_script(JOB_COMMANDS)], env=env, cwd="/",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    watcher = threading.Thread(target=_watch, args=(proc, Phase.TRAINING, seen, logs, start))
    watcher.start()
    while not seen.is_set() and proc.poll() is None:
        seen.wait(0.05)
    setup = time.monotonic() - start
    code = proc.wait()
    watcher.join()
    if code != 0 or not seen.is_set():
        raise SystemExit(f"job start {n} failed (exit {code}); see {logs}")
    return setup


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_app(image_bin: Path, share: Path, model: Path, n: int, logs: Path) -> float:
    """One replica: SERVE_COMMANDS until /ready answers 200; seconds to that."""
    port = _free_port()
    env = {
        **container_env(image_bin, share, n),
        **ftk_env.app_env(str(share), base_model=str(model), port=port),
        ftk_env.API_KEY: "bench-key-not-secret",
    }
    start = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "-c", bash_script(SERVE_COMMANDS)], env=env, cwd="/",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    watcher = threading.Thread(target=_watch, args=(proc, None, threading.Event(), logs, start))
    watcher.start()
    try:
        while proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.1)  # polling a server we started; not a test
        raise SystemExit(f"app start {n} exited {proc.returncode}; see {logs}")
    finally:
        os.killpg(proc.pid, 15)
        proc.wait()
        watcher.join()


def report(what: str, first: float, second: float) -> bool:
    ratio = second / first
    ok = ratio <= 0.15 and second < 20
    print(
        f"{what}: first start {first:.1f} s, second {second:.1f} s, ratio {ratio:.1%}"
        f" ({'meets' if ok else 'misses'} <= 15% and < 20 s)"
    )
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--keep", type=Path, help="work in this folder and keep it")
    p.add_argument("--torch", default="2.13.0", help="torch version of the stand-in image")
    args = p.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ftk-coldstart-"))
    work.mkdir(parents=True, exist_ok=True)
    image_bin = make_image(work / "image", args.torch)
    share = work / "share"
    shutil.rmtree(share, ignore_errors=True)
    model = make_share(share)
    logs = work / "logs.txt"
    print(f"image {image_bin.parent}, share {share}, logs {logs}", file=sys.stderr)
    job = [run_job(image_bin, share, n, logs) for n in (1, 2)]
    print(f"job set-up: {job[0]:.1f} s, {job[1]:.1f} s", file=sys.stderr, flush=True)
    app = [run_app(image_bin, share, model, n, logs) for n in (3, 4)]
    ok = report("job (to first training step)", *job) & report("app (to /ready)", *app)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
