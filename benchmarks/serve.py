"""Serving overhead and throughput: HTTP streaming vs the same model's raw `generate()`.

    python benchmarks/serve.py                                   # tiny random model, CPU
    python benchmarks/serve.py --model SmolLM2-135M-Instruct --max-tokens 128
    python benchmarks/serve.py --model /path/to/model --adapter runs/r1/adapter --load-in-4bit

One process: loads the model once, times greedy `generate()` directly (tokens/s and time to first
token), then the same request through `POST /v1/chat/completions` with `stream: true` on a
loopback server, and prints the ratio (target >= 0.9). Then 1, 4 and 16 concurrent streaming
clients: aggregate tokens/s, mean time to first token, and mean request latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Explain in a few sentences how to deploy a model to the cloud."},
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="tiny", help="'tiny' (built here), a folder or a model id")
    p.add_argument("--adapter", action="append", default=[], help="[NAME=]PATH, served as model")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--runs", type=int, default=3, help="timed repetitions per measurement")
    p.add_argument("--concurrency", default="1,4,16", help="comma-separated client counts")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--device", default="auto")
    p.add_argument("--load-in-4bit", action="store_true")
    p.add_argument("--model-cache", type=Path, default=None)
    return p.parse_args()


def load_engine(args: argparse.Namespace):
    from inference.engine import TransformersEngine
    from inference.models import parse_adapters

    model = args.model
    if model == "tiny":
        from testkit.tiny_models import build_tiny_model

        model = str(build_tiny_model(Path(tempfile.mkdtemp()) / "tiny", "llama"))
    engine = TransformersEngine(
        model,
        parse_adapters(args.adapter),
        model_cache=args.model_cache or Path("model-cache"),
        device=args.device,
        load_in_4bit=args.load_in_4bit,
        max_queue=256,
        max_tokens_limit=max(4096, args.max_tokens),
    )
    engine.load()
    return engine


def raw_generate(engine, served: str, max_tokens: int) -> tuple[float, float, int]:
    """(seconds to first token, seconds total, tokens) for greedy generate() with a streamer."""
    import torch

    from inference.engine import GenerationRequest

    ids = torch.tensor([engine.encode(MESSAGES)], device=engine._model.device)
    config = engine._generation_config(
        GenerationRequest(model=served, messages=MESSAGES, temperature=0), max_tokens
    )
    first: list[float] = []

    class FirstToken:
        seen_prompt = False

        def put(self, value):
            if self.seen_prompt and not first:
                first.append(time.perf_counter())
            self.seen_prompt = True

        def end(self):
            pass

    adapter = served if served != engine.base_name else None
    start = time.perf_counter()
    with engine._adapter(adapter), torch.inference_mode():
        out = engine._model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            generation_config=config,
            streamer=FirstToken(),
        )
    total = time.perf_counter() - start
    return first[0] - start, total, out.shape[1] - ids.shape[1]


async def http_stream(client, url: str, served: str, max_tokens: int) -> tuple[float, float, int]:
    """(seconds to first content chunk, seconds total, completion tokens) for one SSE request."""
    body = {
        "model": served,
        "messages": MESSAGES,
        "temperature": 0,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    first = None
    tokens = 0
    async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            elif first is None and chunk["choices"][0]["delta"].get("content"):
                first = time.perf_counter()
    end = time.perf_counter()
    return (first or end) - start, end - start, tokens


def clients_run(url: str, served: str, max_tokens: int, clients: int):
    """`clients` concurrent streams (run in the client process): (per-request rows, wall s)."""
    import httpx

    async def run():
        async with httpx.AsyncClient(timeout=None) as client:
            start = time.perf_counter()
            rows = await asyncio.gather(
                *(http_stream(client, url, served, max_tokens) for _ in range(clients))
            )
            return rows, time.perf_counter() - start

    return asyncio.run(run())


def summary(rows) -> tuple[float, float, int]:
    """Median time to first token, median tokens/s, tokens of the first row."""
    ttft = statistics.median(r[0] for r in rows)
    tps = statistics.median(r[2] / r[1] for r in rows)
    return ttft, tps, rows[0][2]


def main() -> int:
    args = parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    engine = load_engine(args)
    served = engine.model_ids[0]
    print(
        f"model {served} on {engine.device}, {args.max_tokens} new tokens, greedy, "
        f"torch threads {torch.get_num_threads()}"
    )

    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings

    settings = ServerSettings(api_key_env="FTK_BENCH_NO_KEY", ui=False)
    # Clients run in their own process, as remote clients would: parsing the stream does not
    # compete with the server for this process's GIL.
    spawn = multiprocessing.get_context("spawn")
    with (
        ServerThread(create_app(settings, engine)) as server,
        ProcessPoolExecutor(max_workers=1, mp_context=spawn) as client_process,
    ):

        def http(clients: int):
            call = (clients_run, server.url, served, args.max_tokens, clients)
            return client_process.submit(*call).result()

        raw_generate(engine, served, args.max_tokens)  # warm-up, both paths
        http(1)
        raw, streamed = [], []
        for _ in range(args.runs):  # interleaved, so drifting machine load hits both alike
            raw.append(raw_generate(engine, served, args.max_tokens))
            streamed.extend(http(1)[0])

        raw_ttft, raw_tps, raw_tokens = summary(raw)
        http_ttft, http_tps, http_tokens = summary(streamed)
        ratio = http_tps / raw_tps
        print()
        print(f"{'path':<28}{'tokens':>8}{'TTFT ms':>10}{'tokens/s':>11}")
        for label, ttft, tps, tokens in (
            ("raw generate()", raw_ttft, raw_tps, raw_tokens),
            ("HTTP stream (1 client)", http_ttft, http_tps, http_tokens),
        ):
            print(f"{label:<28}{tokens:>8}{ttft * 1000:>10.1f}{tps:>11.1f}")
        verdict = "ok" if ratio >= 0.9 else "below target"
        print(f"ratio HTTP/raw tokens/s: {ratio:.3f} (target >= 0.9: {verdict})")

        print()
        print(f"{'clients':>8}{'agg tokens/s':>14}{'mean TTFT ms':>14}{'mean latency s':>16}")
        for clients in [int(c) for c in args.concurrency.split(",") if c]:
            rows, wall = http(clients)
            tokens = sum(r[2] for r in rows)
            ttft = statistics.mean(r[0] for r in rows)
            latency = statistics.mean(r[1] for r in rows)
            print(f"{clients:>8}{tokens / wall:>14.1f}{ttft * 1000:>14.1f}{latency:>16.2f}")
    engine.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
