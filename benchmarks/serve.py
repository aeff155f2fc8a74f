"""Serving throughput: the one-at-a-time engine vs continuous batching, and HTTP overhead.

    python benchmarks/serve.py                                   # tiny random model, CPU
    python benchmarks/serve.py --model SmolLM2-135M-Instruct --max-tokens 64 --runs 0
    python benchmarks/serve.py --model /path/to/model --adapter runs/r1/adapter --load-in-4bit
    python benchmarks/serve.py --gpu --model HF_ID_OR_FOLDER --adapter run=PATH   # vLLM too

First the one-at-a-time engine (`--max-batch 1`): raw greedy `generate()` against the same request
streamed over HTTP (ratio, target >= 0.9; `--runs 0` skips it). Then, for that engine and for the
continuously batching one in the same run, a concurrency sweep: 1, 4 and 16 streaming clients,
each in its own process as remote clients are, started together: aggregate generated tokens/s and
p50/p95 time to first token. Target at 16 clients: >= 4x the aggregate tokens/s, p95 TTFT no
worse. `--gpu` (benchmarks/serve_gpu.py) runs the sweep against vLLM's server and the transformers
engine for the same model and adapter; it skips without CUDA or vllm.
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
    p.add_argument("--runs", type=int, default=3, help="raw vs HTTP repetitions (0: skip)")
    p.add_argument("--concurrency", default="1,4,16", help="comma-separated client counts")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--device", default="auto")
    p.add_argument("--load-in-4bit", action="store_true")
    p.add_argument("--model-cache", type=Path, default=None)
    p.add_argument(
        "--gpu", action="store_true", help="vLLM vs the transformers engine (needs CUDA + vllm)"
    )
    return p.parse_args()


def load_engine(args: argparse.Namespace, max_batch: int):
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
        max_batch=max_batch,
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


def client_process(url: str, served: str, max_tokens: int, key: str, ready, go, results) -> None:
    """One remote client, in its own process: wait for the start signal, stream one answer."""
    import httpx

    async def run():
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx.AsyncClient(timeout=None, headers=headers) as client:
            return await http_stream(client, url, served, max_tokens)

    ready.put(1)
    go.wait()
    results.put(asyncio.run(run()))


def sweep(url: str, served: str, max_tokens: int, clients: int, key: str = ""):
    """`clients` concurrent streams, one process each, started together: (rows, wall s)."""
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=client_process, args=(url, served, max_tokens, key, ready, go, results))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get()
    start = time.perf_counter()
    go.set()
    rows = [results.get() for _ in procs]
    wall = time.perf_counter() - start
    for proc in procs:
        proc.join()
    return rows, wall


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_sweep(label: str, url: str, served: str, args, key: str = "") -> dict[int, tuple]:
    """The concurrency sweep against one server; returns {clients: (tok/s, p50, p95)}."""
    sweep(url, served, args.max_tokens, 1, key)  # warm-up
    out = {}
    for clients in [int(c) for c in args.concurrency.split(",") if c]:
        rows, wall = sweep(url, served, args.max_tokens, clients, key)
        ttfts = [r[0] * 1000 for r in rows]
        agg = sum(r[2] for r in rows) / wall
        out[clients] = (agg, percentile(ttfts, 0.5), percentile(ttfts, 0.95))
        print(
            f"{label:<24}{clients:>8}{agg:>14.1f}{out[clients][1]:>12.0f}{out[clients][2]:>12.0f}"
        )
    return out


def summary(rows) -> tuple[float, float, int]:
    """Median time to first token, median tokens/s, tokens of the first row."""
    ttft = statistics.median(r[0] for r in rows)
    tps = statistics.median(r[2] / r[1] for r in rows)
    return ttft, tps, rows[0][2]


SWEEP_HEADER = f"{'engine':<24}{'clients':>8}{'agg tokens/s':>14}{'p50 TTFT':>12}{'p95 TTFT':>12}"


def overhead(engine, url: str, served: str, args) -> None:
    """Raw greedy generate() vs the same request streamed over HTTP (one-at-a-time engine)."""
    raw_generate(engine, served, args.max_tokens)  # warm-up, both paths
    sweep(url, served, args.max_tokens, 1)
    raw, streamed = [], []
    for _ in range(args.runs):  # interleaved, so drifting machine load hits both alike
        raw.append(raw_generate(engine, served, args.max_tokens))
        streamed.extend(sweep(url, served, args.max_tokens, 1)[0])
    raw_ttft, raw_tps, raw_tokens = summary(raw)
    http_ttft, http_tps, http_tokens = summary(streamed)
    ratio = http_tps / raw_tps
    print(f"{'path':<28}{'tokens':>8}{'TTFT ms':>10}{'tokens/s':>11}")
    for label, ttft, tps, tokens in (
        ("raw generate()", raw_ttft, raw_tps, raw_tokens),
        ("HTTP stream (1 client)", http_ttft, http_tps, http_tokens),
    ):
        print(f"{label:<28}{tokens:>8}{ttft * 1000:>10.1f}{tps:>11.1f}")
    verdict = "ok" if ratio >= 0.9 else "below target"
    print(f"ratio HTTP/raw tokens/s: {ratio:.3f} (target >= 0.9: {verdict})\n")


def serve_engine(args, max_batch: int, label: str, with_overhead: bool) -> dict[int, tuple]:
    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings

    engine = load_engine(args, max_batch)
    served = engine.model_ids[0]
    settings = ServerSettings(api_key_env="FTK_BENCH_NO_KEY", ui=False)
    try:
        with ServerThread(create_app(settings, engine)) as server:
            if with_overhead and args.runs:
                overhead(engine, server.url, served, args)
                print(SWEEP_HEADER)
            return print_sweep(label, server.url, served, args)
    finally:
        engine.shutdown()


def main() -> int:
    args = parse_args()
    if args.gpu:
        from benchmarks.serve_gpu import gpu_main

        return gpu_main(args)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    counts = [int(c) for c in args.concurrency.split(",") if c]
    print(
        f"model {args.model}, {args.max_tokens} new tokens, greedy, "
        f"torch threads {torch.get_num_threads()}\n"
    )
    if not args.runs:
        print(SWEEP_HEADER)
    serial = serve_engine(args, 1, "one at a time", with_overhead=True)
    batched = serve_engine(args, max(counts), "continuous batching", with_overhead=False)
    top = max(counts)
    speedup = batched[top][0] / serial[top][0]
    ttft_ok = batched[top][2] <= serial[top][2]
    print(
        f"\n{top} clients: aggregate tokens/s {speedup:.1f}x one-at-a-time (target >= 4x: "
        f"{'ok' if speedup >= 4 else 'below target'}); p95 TTFT {batched[top][2]:.0f} vs "
        f"{serial[top][2]:.0f} ms ({'no worse' if ttft_ok else 'worse'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
