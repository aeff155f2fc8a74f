"""`benchmarks/serve.py --gpu`: vLLM's OpenAI server vs the transformers engine, same model and
adapter, same concurrency sweep. Skips (exit 0, one line) without CUDA or an installed vllm.

vLLM is started the way the app starts it (`inference.vllm_app.vllm_argv` on the app's env: the
model folder, `--served-model-name`, the adapters as LoRA modules with their rank, the key on
every route), so the figures describe what `inferenceEngine: vllm` runs.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
import time
from pathlib import Path

PORT = 8011


def _wait_health(url: str, proc: subprocess.Popen, timeout: float = 900) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"vllm exited with status {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2)
    raise SystemExit("vllm did not become healthy in time")


def gpu_main(args) -> int:
    import torch

    if not torch.cuda.is_available() or importlib.util.find_spec("vllm") is None:
        print("skipped: --gpu needs CUDA and vllm (pip install vllm)")
        return 0
    from benchmarks.serve import SWEEP_HEADER, print_sweep, serve_engine
    from contract import env as ftk_env
    from inference.models import parse_adapters, resolve_base
    from inference.vllm_app import vllm_argv, vllm_env

    model = str(resolve_base(args.model, args.model_cache or Path("model-cache")))
    adapters = parse_adapters(args.adapter)
    served = adapters[0].name if adapters else Path(model).name
    key = secrets.token_hex(16)
    app_env = {
        **os.environ,
        ftk_env.BASE_MODEL: model,
        ftk_env.ADAPTER: ",".join(args.adapter),
        ftk_env.PORT: str(PORT),
        ftk_env.API_KEY: key,  # the key never on the command line
        ftk_env.VLLM_API_KEY: key,
    }
    argv = vllm_argv(app_env)
    env = vllm_env(app_env)
    print(f"model {model}, adapter {served}, {args.max_tokens} new tokens, greedy\n")
    print(SWEEP_HEADER)
    proc = subprocess.Popen(argv, env=env)
    try:
        url = f"http://127.0.0.1:{PORT}"
        _wait_health(url, proc)
        vllm = print_sweep("vLLM", url, served, args, key)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    counts = [int(c) for c in args.concurrency.split(",") if c]
    ours = serve_engine(args, max(counts), "transformers (batched)", with_overhead=False)
    top = max(counts)
    print(f"\n{top} clients: vLLM {vllm[top][0] / ours[top][0]:.1f}x the transformers engine")
    return 0
