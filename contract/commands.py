"""The job's and the app's command lines: what the stack declares, what `--infra` runs, and what
the local target spawns. One definition each, so the three cannot drift apart.

The stack's job container runs `bash -c "<job_script>"`; `set -euo pipefail` makes any failing
step fail the execution (the AI Toolkit's template joins its commands with "; ", which hides
failures).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from contract import env

TRAIN_REQUIREMENTS: Final = "requirements-train.txt"
SERVE_REQUIREMENTS: Final = "requirements-serve.txt"
# Exact versions with hashes, compiled from the two files above (`python -m bootstrap.refresh`).
TRAIN_LOCK: Final = "requirements-train.lock"
SERVE_LOCK: Final = "requirements-serve.lock"
# The folder of installed packages the bootstrap prints; put first on PYTHONPATH.
SITE_VAR: Final = "FTK_SITE"


def _install(lock: str, requirements: str) -> str:
    """Use the lock's dependency set, built on the share by the first start and reused by every
    later one (bootstrap.envs); a workspace with only a requirements file installs it as before."""
    return (
        f'if [ -f {lock} ]; then {SITE_VAR}="$(python -m bootstrap env {lock})"; '
        f'export PYTHONPATH="${SITE_VAR}${{PYTHONPATH:+:$PYTHONPATH}}"; '
        f"elif [ -f {requirements} ]; then pip install --no-cache-dir -q -r {requirements}; fi"
    )


# The job's default commands. First the container's start is recorded (the time budget counts
# from it, install included: training.clock). An execution gets no run id from its start request
# (it runs the job's own template): it takes the run request `ftk run` left on the share under
# its own name (contract.requests) and trains that run; with none of its own it fails.
JOB_COMMANDS: Final = (
    f'export {env.CONTAINER_STARTED_AT}="$(date +%s)"',
    f'cd "${env.MOUNT_PATH}"',
    _install(TRAIN_LOCK, TRAIN_REQUIREMENTS),
    f'python -m training claim --workspace "${env.MOUNT_PATH}"',
)

# The inference app's startup probe target: a bare TCP listener on STARTED_PORT, started as the
# container's first step and gone (within 2 s) once the container's server exits (its parent:
# the script's shell, which `exec` turns into the server). It lets the startup probe pass at
# once, so the readiness probe (/ready, every few seconds) notices a loaded model within
# seconds; the liveness probe's budget (stacks/inference.py) bounds the slow part of a start
# (install, model download and load). It never accepts: a TCP probe only connects.
STARTED_PORT: Final = 8079
STARTED_LISTENER: Final = (
    'python3 -c \'import os,socket,sys,time;s=socket.create_server(("",int(sys.argv[1])));'
    "p=int(sys.argv[2]);[time.sleep(2) for _ in iter(lambda:os.getppid()==p,False)]' "
    f'{STARTED_PORT} "$$" >/dev/null 2>&1 &'
)

# The inference app's command: serve settings come from env (contract.env), so `ftk deploy`
# changes them with a new revision, never with a new command.
SERVE_COMMANDS: Final = (
    STARTED_LISTENER,
    f'cd "${env.MOUNT_PATH}"',
    _install(SERVE_LOCK, SERVE_REQUIREMENTS),
    "exec python -m inference serve --host 0.0.0.0",
)


def bash_script(commands: Sequence[str]) -> str:
    """One bash script: any failing command fails the execution."""
    return "set -euo pipefail; " + "\n".join(commands)


def train_argv(python: str, config: Path, workspace: Path) -> list[str]:
    """`python -m training` for one run's config (the local target's execution)."""
    return [python, "-m", "training", "--config", str(config), "--workspace", str(workspace)]


def serve_argv(
    python: str,
    *,
    base_model: str,
    adapter: tuple[str, Path] | None,
    host: str,
    port: int,
    model_cache: Path,
    more_adapters: Sequence[tuple[str, Path]] = (),
) -> list[str]:
    """`python -m inference serve` (the local target's endpoint). The API key is read from the
    environment variable `contract.env.API_KEY`, never passed as an argument. `more_adapters`
    are served beside `adapter`, each under its own name (`ftk deploy RUN RUN...`)."""
    argv = [python, "-m", "inference", "serve", "--base", base_model]
    for name, path in [*([adapter] if adapter else []), *more_adapters]:
        argv += ["--adapter", f"{name}={path}"]
    return [
        *argv,
        "--host",
        host,
        "--port",
        str(port),
        "--api-key-env",
        env.API_KEY,
        "--model-cache",
        str(model_cache),
    ]


def own_image_commands(entry_point: str) -> tuple[str, ...]:
    """The app's command for an engine in its own image (contract.engines: `image` set): the
    startup listener, then the entry point from the share, run by the image's own `python3` (no
    install: the module imports only the standard library and `contract`), which reads the app's
    env and execs the engine's server."""
    return (STARTED_LISTENER, f'cd "${env.MOUNT_PATH}"', f"exec python3 -m {entry_point}")


# The inference app on vLLM (`inferenceEngine: vllm`): vLLM's own OpenAI-compatible server in its
# official image. `inference.vllm_app` (standard library only, run by the image's own Python from
# the share) reads the same env as SERVE_COMMANDS when the container starts, so `ftk deploy` works
# unchanged, builds `vllm serve`'s arguments (the job's completed model folder, the adapters as
# LoRA modules with their rank, the key required on every route by `--middleware`) and execs it.
# The key reaches vLLM by secretRef (FTK_API_KEY, VLLM_API_KEY), never as an argument.
VLLM_SERVE_COMMANDS: Final = own_image_commands("inference.vllm_app")
