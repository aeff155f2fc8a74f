"""The inference app on vLLM (`inferenceEngine: vllm`): its command line, the key on every route.

The app's container runs `python3 -m inference.vllm_app` from the share with the vLLM image's own
Python, so this module imports only the standard library, `contract` and `inference.models` (also
standard library only at import). It is the vLLM entry's `entry_point` in
`contract.engines.ENGINES`: a new engine's server entry point is a module like this one. It reads
the app's env (contract.env), builds `vllm serve`'s arguments (`vllm_argv`) and replaces itself
with vLLM. A setting vLLM cannot serve is one `error:` line and
exit 2 before any GPU memory is touched.

- **Model**: the folder the training job completed on the share (`model-cache/<org>--<name>/`
  with its `.complete` marker) when there is one, served under the Hub id; else the Hub id itself,
  downloaded under `HF_HOME` (a gated model needs `HF_TOKEN`, a secretRef when the stack has it).
- **Adapters**: `FTK_ADAPTER`, `[NAME=]PATH` comma-separated, served under the names `ftk deploy`
  wrote (a bare PATH named by `contract.adapters`' rule, as the transformers engine names it);
  `--max-lora-rank` is the largest adapter rank rounded up to what vLLM accepts.
- **Key**: vLLM's own `--api-key` guards only `/v1`, `/v2` and `/inference`; `/invocations` runs
  the same completions, and `/tokenize`, `/metrics`, `/version` and more are open
  (vllm-project/vllm `vllm/entrypoints/openai/cli_args.py`, `api_key`'s help, read 2026-12-05;
  vllm issue #58144). `RequireKey`, loaded through vLLM's `--middleware` hook, asks for the key on
  every path but `/health`.

Every flag passed is checked against vllm-project/vllm (see docs/inference.md, "Which engine").
"""

from __future__ import annotations

import hmac
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from contract import env as ftk_env
from contract.engines import ENGINES, VLLM, VLLM_MAX_LORA_RANKS, vllm_lora_rank
from contract.exit_codes import ExitCode
from contract.layout import ADAPTER_CONFIG_FILE, COMPLETE_MARKER, MODEL_CACHE_DIR
from inference.models import ModelError, parse_adapters

# The platform's probes and ftk's wake poll, answered without a key (vLLM answers /health once
# the engine is up): the registry entry's paths.
OPEN_PATHS = frozenset({ENGINES[VLLM].ready_path, ENGINES[VLLM].health_path})
MIDDLEWARE = "inference.vllm_app.RequireKey"  # its import path, also when run as __main__
# vLLM's compile cache (torch.compile artifacts, CUDA graphs' inputs): kept on the share so a
# replica woken from zero reuses what an earlier one compiled (vllm/envs.py VLLM_CACHE_ROOT).
VLLM_CACHE_ROOT = "VLLM_CACHE_ROOT"
CACHE_DIR = ".ftk/vllm-cache"


class VllmSettingError(Exception):
    """The app's env asks for something this vLLM cannot serve; the message says what to do."""


def lora_rank(rank: int) -> int:
    """The smallest rank vLLM accepts that holds an adapter of rank `rank`."""
    allowed = vllm_lora_rank(rank)
    if allowed is None:
        raise VllmSettingError(
            f"LoRA rank {rank} is above the {VLLM_MAX_LORA_RANKS[-1]} vLLM serves; train with "
            f"lora.r <= {VLLM_MAX_LORA_RANKS[-1]} or serve with inferenceEngine: transformers"
        )
    return allowed


def adapter_needs(adapter_dir: Path) -> int:
    """The adapter's largest rank (r and any rank_pattern), refusing what vLLM cannot load
    (the registry entry's `adapter_problem`, contract.engines)."""
    config = json.loads((adapter_dir / ADAPTER_CONFIG_FILE).read_text())
    pattern = config.get("rank_pattern") or {}
    rank = max([int(config.get("r", 8)), *(int(v) for v in pattern.values())])
    lora_rank(rank)  # above vLLM's largest: its own message
    problem = ENGINES[VLLM].adapter_problem(config)
    if problem:
        raise VllmSettingError(
            f"adapter {adapter_dir}: {problem}; train with {ENGINES[VLLM].adapter_rule} or serve "
            "with inferenceEngine: transformers"
        )
    return rank


def served_model(environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """What `vllm serve` loads, and the flags that go with it."""
    base = environ.get(ftk_env.BASE_MODEL, "").strip()
    if not base:
        raise VllmSettingError(f"no base model: set {ftk_env.BASE_MODEL}")
    if Path(base).is_dir():
        return base, ["--served-model-name", Path(base).name]
    hub_id = _hub_id(base)
    mount = environ.get(ftk_env.MOUNT_PATH, "/mount")
    cache = Path(environ.get(ftk_env.MODEL_CACHE) or f"{mount}/{MODEL_CACHE_DIR}")
    folder = cache / hub_id.replace("/", "--")  # training.spec.paths.cache_folder's layout
    if (folder / COMPLETE_MARKER).is_file():
        return str(folder), ["--served-model-name", base]
    hf_home = environ.get(ftk_env.HF_HOME) or f"{cache}/hf"
    return hub_id, ["--served-model-name", base, "--download-dir", f"{hf_home}/hub"]


def _hub_id(base: str) -> str:
    """A catalog name (`SmolLM2-135M-Instruct`) as the Hub id training caches it under; the
    catalog is standard library only (training/spec/catalog.py)."""
    try:
        from training.spec.catalog import find
    except ImportError:  # a share without training/: ids are taken as given
        return base
    entry = find(base)
    return entry.hf_id if entry else base


def vllm_argv(environ: Mapping[str, str]) -> list[str]:
    """`vllm serve ...` for the app's env."""
    model, model_flags = served_model(environ)
    argv = ["vllm", "serve", model, "--host", "0.0.0.0", "--port", environ.get("PORT", "8000")]
    argv += model_flags
    argv += ["--middleware", MIDDLEWARE]
    specs = [s for s in environ.get(ftk_env.ADAPTER, "").split(",") if s.strip()]
    try:
        adapters = parse_adapters(specs)
    except ModelError as exc:
        raise VllmSettingError(str(exc)) from exc
    if adapters:
        rank = lora_rank(max(adapter_needs(a.path) for a in adapters))
        argv += ["--enable-lora", "--max-lora-rank", str(rank), "--max-loras", str(len(adapters))]
        argv += ["--lora-modules", *(f"{a.name}={a.path}" for a in adapters)]
    return argv


def vllm_env(environ: Mapping[str, str]) -> dict[str, str]:
    """vLLM's environment: ours, with the share on PYTHONPATH (for `--middleware`) and the
    compile cache on the share."""
    out = dict(environ)
    share = str(Path.cwd())
    out["PYTHONPATH"] = share + (f":{out['PYTHONPATH']}" if out.get("PYTHONPATH") else "")
    mount = environ.get(ftk_env.MOUNT_PATH, share)
    out.setdefault(VLLM_CACHE_ROOT, f"{mount}/{CACHE_DIR}")
    return out


def main() -> int:
    if not os.environ.get(ftk_env.API_KEY):
        print(f"error: no API key in ${ftk_env.API_KEY}; vLLM is not started open", file=sys.stderr)
        return ExitCode.USAGE
    try:
        argv = vllm_argv(os.environ)
    except VllmSettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    print(" ".join(argv), file=sys.stderr, flush=True)  # no secret is ever an argument
    os.execvpe(argv[0], argv, vllm_env(os.environ))
    return ExitCode.FAILED  # not reached


# -- the key on every route ----------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_UNAUTHORIZED = json.dumps(
    {
        "error": {
            "message": "Missing or wrong API key: send 'Authorization: Bearer KEY'.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
).encode()


class RequireKey:
    """ASGI middleware: `Authorization: Bearer $FTK_API_KEY` on every HTTP and WebSocket path but
    `OPEN_PATHS` (`/health`). Plain ASGI (no Starlette import), so it loads in any vLLM; vLLM
    adds it with `app.add_middleware(RequireKey)`. Without a key in the environment it refuses
    everything."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self._key = os.environ.get(ftk_env.API_KEY, "").encode()

    def _allowed(self, scope: Scope) -> bool:
        if scope.get("path") in OPEN_PATHS:
            return True
        headers = dict(scope.get("headers") or [])
        scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
        given = token.strip() if scheme.lower() == b"bearer" else b""
        return bool(self._key) and hmac.compare_digest(given, self._key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._allowed(scope):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _UNAUTHORIZED})


if __name__ == "__main__":
    sys.exit(main())
