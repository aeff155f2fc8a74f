"""The GPU checks `benchmarks/gpu_check.sh` runs: one line per check, PASS / FAIL / SKIP.

    python benchmarks/gpu_check.py            # needs CUDA; no network (HF_HUB_OFFLINE)

1. `qlora`: a few 4-bit (NF4, double quantization) QLoRA steps of a small random Phi-3-shaped
   model through ftk's own entry point (`training.train.main`), paged 8-bit AdamW.
2. `memory`: `training.spec.memory.estimate` for that run (tensors, without the CUDA context)
   against the measured peak (`torch.cuda.max_memory_allocated`, the run's summary); within 25%.
3. `serve`: the transformers engine on that model, its paged KV cache sized from the free GPU
   memory (no `kv_cache_tokens`), answering 16 concurrent requests, each within the time limit.
4. `dtype`: the serving dtype follows compute capability (bf16 from 8.0, else fp16).

The model is built here (random weights, a tokenizer trained on a few sentences): nothing is
downloaded. Each check prints exactly one line; the exit code is 1 if any FAILed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SHAPE = dict(  # about 110 M parameters: seconds per step on any data-centre GPU
    vocab_size=2048,
    hidden_size=1024,
    intermediate_size=2816,
    num_hidden_layers=8,
    num_attention_heads=16,
    num_key_value_heads=16,
    max_position_embeddings=2048,
)
STEPS, BATCH, SEQ = 6, 4, 512
CONCURRENT = 16
ANSWER_LIMIT_S = 120.0
failed: list[str] = []


def line(check: str, status: str, detail: str) -> None:
    if status == "FAIL":
        failed.append(check)
    print(f"gpu_check {check}: {status} {detail}", flush=True)


def qlora(work: Path) -> dict | None:
    import torch
    from train_gpu import _sections, build_model, write_data

    from training.spec.config import from_dict
    from training.train import main as train_main

    missing = [m for m in ("trl", "bitsandbytes", "datasets") if not _importable(m)]
    if missing:
        line("qlora", "SKIP", f"needs {', '.join(missing)} (wheels in benchmarks/wheels/)")
        return None
    build_model(work / "model", SHAPE, "cuda")
    write_data(work / "train.jsonl", STEPS * BATCH, words_per_example=SEQ * 2)
    args = type("Args", (), {"steps": STEPS, "batch_size": BATCH})()
    sections = _sections(args, work, SEQ, cuda=True)
    torch.cuda.reset_peak_memory_stats()
    started = time.monotonic()
    code = train_main(from_dict(sections), workspace=work)
    took = time.monotonic() - started
    if code != 0:
        line("qlora", "FAIL", f"training exited {code}")
        return None
    summary = json.loads((work / "run" / "summary.json").read_text())
    peak = int(summary["peak_memory_bytes"])
    detail = f"{STEPS} steps of 4-bit QLoRA in {took:.0f} s, peak {peak / 2**30:.2f} GiB"
    line("qlora", "PASS", detail)
    return {"sections": sections, "peak": peak}


def memory(work: Path, trained: dict | None) -> None:
    if trained is None:
        line("memory", "SKIP", "no QLoRA run to compare with")
        return
    import torch

    from training.spec.config import from_dict
    from training.spec.memory import estimate, find_shape

    name = torch.cuda.get_device_name(0)
    gpu = "T4" if "T4" in name else "A100"  # the estimator's two precisions: fp16 / bf16
    shape = find_shape(str(work / "model"), [work / "model"])
    est = estimate(from_dict(trained["sections"]), shape, gpu=gpu)
    tensors = est.total - est.overhead
    ratio = tensors / trained["peak"]
    status = "PASS" if 0.75 <= ratio <= 1.25 else "FAIL"
    line(
        "memory",
        status,
        f"estimate {tensors / 2**30:.2f} GiB of tensors (+{est.overhead / 2**30:.2f} GiB CUDA "
        f"overhead) vs measured peak {trained['peak'] / 2**30:.2f} GiB: {ratio:.2f}x (0.75-1.25)",
    )


def serve(model: Path, device: str = "cuda") -> None:
    from inference.engine import TransformersEngine
    from inference.generation import GenerationRequest

    engine = TransformersEngine(str(model), device=device, max_batch=CONCURRENT)
    started = time.monotonic()
    engine.load()  # sizes the cache from free memory and serves one token before it returns
    cache = engine._batcher.cache_tokens
    loaded = time.monotonic() - started

    async def one(i: int) -> int:
        request = GenerationRequest(
            engine.base_name,
            [{"role": "user", "content": f"Say something about number {i}."}],
            max_tokens=32,
            temperature=0,
        )
        tokens = 0
        async for event in engine.submit(request):
            tokens = event.completion_tokens or tokens
        return tokens

    async def all_of_them() -> list[int]:
        return await asyncio.wait_for(
            asyncio.gather(*(one(i) for i in range(CONCURRENT))), ANSWER_LIMIT_S
        )

    started = time.monotonic()
    try:
        answered = asyncio.run(all_of_them())
    finally:
        engine.shutdown()
    took = time.monotonic() - started
    ok = sum(1 for t in answered if t > 0)
    line(
        "serve",
        "PASS" if ok == CONCURRENT else "FAIL",
        f"{ok}/{CONCURRENT} concurrent requests answered in {took:.1f} s; KV cache "
        f"{cache:,} tokens sized from free memory; load + warm-up {loaded:.0f} s",
    )


def dtype() -> None:
    import torch

    from inference.models import pick_dtype

    capability = torch.cuda.get_device_capability(0)
    chosen = pick_dtype("auto", "cuda")
    wanted = torch.bfloat16 if capability >= (8, 0) else torch.float16
    line(
        "dtype",
        "PASS" if chosen == wanted else "FAIL",
        f"{chosen} on compute capability {capability[0]}.{capability[1]} "
        f"(torch says bf16 supported: {torch.cuda.is_bf16_supported()})",
    )


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    import torch

    if not torch.cuda.is_available():
        line("device", "SKIP", "no CUDA GPU here; nothing checked")
        return 0
    props = torch.cuda.get_device_properties(0)
    memory_gib = props.total_memory / 2**30
    line("device", "PASS", f"{props.name}, {memory_gib:.1f} GiB, torch {torch.__version__}")
    work = Path(tempfile.mkdtemp(prefix="ftk-gpu-check-"))
    state: dict = {}
    for name, check in (
        ("qlora", lambda: state.update(trained=qlora(work))),
        ("memory", lambda: memory(work, state.get("trained"))),
        ("serve", lambda: serve(work / "model")),
        ("dtype", dtype),
    ):
        try:
            check()
        except Exception as exc:  # one line per check, whatever happens
            line(name, "FAIL", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
            traceback.print_exc(file=open(work / f"{name}.traceback", "w"))  # noqa: SIM115
        if name == "qlora" and not (work / "model").exists():
            from train_gpu import build_model

            build_model(work / "model", SHAPE, "cuda")  # the serve check needs a model anyway
        torch.cuda.empty_cache()
    print(f"gpu_check done: {len(failed)} failed; tracebacks (if any) in {work}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
