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


# The job's default commands. An execution gets no run id from its start request (it runs the
# job's own template): it claims a run request that `ftk run` left on the share
# (contract.requests) and trains that run; with nothing to claim it exits 0.
JOB_COMMANDS: Final = (
    f'cd "${env.MOUNT_PATH}"',
    _install(TRAIN_LOCK, TRAIN_REQUIREMENTS),
    f'python -m training claim --workspace "${env.MOUNT_PATH}"',
)

# The inference app's command: serve settings come from env (contract.env), so `ftk deploy`
# changes them with a new revision, never with a new command.
SERVE_COMMANDS: Final = (
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


# The inference app on vLLM (`inferenceEngine: vllm`): vLLM's own OpenAI-compatible server in its
# official image. The same env as SERVE_COMMANDS drives it, read when the container starts, so
# `ftk deploy` works unchanged: FTK_BASE_MODEL is the model (served under that name, as the
# transformers engine does) and FTK_ADAPTER, `[NAME=]PATH` (one adapter; several are
# `NAME=PATH,NAME=PATH`, as `ftk deploy RUN RUN...` writes them), becomes a LoRA module
# named like the transformers engine names it (the run id for `runs/<run>/adapter`). The key
# reaches vLLM as VLLM_API_KEY (a secretRef), never as an argument. Flags: vLLM docs,
# docs/serving/openai_compatible_server.md and docs/features/lora.md (vllm-project/vllm).
VLLM_SERVE_COMMANDS: Final = (
    f'args=(--host 0.0.0.0 --port "${env.PORT}" --served-model-name "${env.BASE_MODEL}"'
    f' --download-dir "${env.HF_HOME}/hub")',
    f'spec="${{{env.ADAPTER}:-}}"; spec="${{spec%%,*}}"',
    'if [ -n "$spec" ]; then'
    ' path="${spec#*=}"; name="${spec%%=*}";'
    ' if [ "$name" = "$spec" ]; then d="${path%/}"; name="$(basename "$d")";'
    ' if [ "$name" = adapter ]; then name="$(basename "$(dirname "$d")")"; fi; fi;'
    ' args+=(--enable-lora --max-lora-rank 64 --lora-modules "$name=$path"); fi',
    # Several runs (`ftk deploy RUN RUN...`: FTK_ADAPTER is `RUN=PATH,RUN=PATH`): the others join
    # the one --lora-modules list above (it takes several NAME=PATH values; a second flag would
    # replace the first list), so this must stay the line right after the one that ends with it.
    f'rest="${{{env.ADAPTER}:-}}"; if [ "${{rest#*,}}" != "$rest" ]; then rest="${{rest#*,}}";'
    ' IFS=, read -ra more <<< "$rest"; for spec in "${more[@]}"; do'
    ' if [ -n "$spec" ]; then args+=("$spec"); fi; done; fi',
    f'exec vllm serve "${env.BASE_MODEL}" "${{args[@]}}"',
)
