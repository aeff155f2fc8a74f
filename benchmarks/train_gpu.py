"""GPU training throughput: a Phi-3-mini-shaped model (random weights), 4-bit QLoRA, seq 2048.

    python benchmarks/train_gpu.py                       # needs CUDA: tokens/s, peak memory, MFU
    python benchmarks/train_gpu.py --batch-size 8 --steps 16
    python benchmarks/train_gpu.py --tiny --allow-cpu    # smoke-test this script on a CPU
    python benchmarks/train_gpu.py --gpus 2              # data parallel: scaling efficiency

Builds Phi-3-mini's shape (3.8B parameters, fused qkv_proj / gate_up_proj) with random bf16
weights on the GPU, saves it, and trains it through ftk's own entry point (`training.train.main`):
4-bit NF4 with double quantization, LoRA r=16 on Phi-3's default modules, gradient checkpointing,
paged 8-bit AdamW, every example exactly `--seq` tokens (longer texts truncated, no padding).

Reported: tokens/s (median of the per-step rates after `--warmup` steps, from metrics.jsonl),
peak GPU memory of the 4-bit load and training (torch.cuda.max_memory_allocated), and MFU =
achieved model FLOPs / the GPU's peak dense bf16 FLOPs (fp16 on T4). Model FLOPs per token =
6·N + 12·L·d·s (PaLM, appendix B), N = parameters without the input embedding: with LoRA the
frozen weights get no gradient (-2N) but checkpointing recomputes the forward pass (+2N), so 6N
is also close to the work done. Without CUDA (and without --allow-cpu) it prints why and exits 0.

`--gpus N` (N > 1) also trains the same config data parallel, one process per GPU through ftk's
launcher (`FTK_GPU_PROCESSES=N python -m training`, torchrun), and reports the scaling
efficiency: tokens/s with N GPUs / (N x tokens/s with one), each process with the same
`--batch-size` (so N times the global batch). With --allow-cpu it runs N gloo processes on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Dense bf16 tensor-core peak (fp16 for the T4), FLOP/s, by a substring of the device name.
PEAK_FLOPS = {
    "H200": 989e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10": 125e12,
    "T4": 65e12,
}
PHI3_MINI = dict(
    vocab_size=32064,
    hidden_size=3072,
    intermediate_size=8192,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
    max_position_embeddings=4096,
)
TINY = dict(
    vocab_size=2048,
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=1024,
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=12, help="optimizer steps (incl. warm-up)")
    p.add_argument("--warmup", type=int, default=2, help="steps left out of the rate")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seq", type=int, default=2048, help="tokens per example")
    p.add_argument("--layers", type=int, default=None, help="override the number of layers")
    p.add_argument("--tiny", action="store_true", help="a tiny Phi-3 shape (for smoke tests)")
    p.add_argument("--allow-cpu", action="store_true", help="run without CUDA (no MFU)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--gpus", type=int, default=1, help="also train data parallel on N GPUs")
    return p.parse_args()


def build_model(out: Path, shape: dict, device: str) -> int:
    """Save a random-weight Phi-3 model plus a tokenizer; returns the non-embedding params."""
    import torch
    from transformers import AutoModelForCausalLM, Phi3Config

    from testkit.tiny_models import build_tokenizer

    tokenizer = build_tokenizer(out)
    config = Phi3Config(
        **shape,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    params -= model.get_input_embeddings().weight.numel()
    model.save_pretrained(out)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return params


def write_data(path: Path, examples: int, words_per_example: int) -> None:
    """Texts long enough to be truncated to exactly `--seq` tokens."""
    rng = random.Random(0)
    vocab = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "models")
    with path.open("w", encoding="utf-8") as out:
        for _ in range(examples):
            text = " ".join(rng.choice(vocab) for _ in range(words_per_example))
            out.write(json.dumps({"text": text}) + "\n")


def peak_flops(name: str) -> float | None:
    for key, flops in PEAK_FLOPS.items():
        if key in name:
            return flops
    return None


def main() -> int:
    args = parse_args()
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        print("benchmarks/train_gpu.py needs a CUDA GPU (none found); nothing to measure.")
        return 0
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from training.spec.config import from_dict
    from training.train import main as train_main

    shape = dict(TINY if args.tiny else PHI3_MINI)
    if args.layers:
        shape["num_hidden_layers"] = args.layers
    seq = min(args.seq, shape["max_position_embeddings"])
    work = Path(tempfile.mkdtemp(prefix="ftk-bench-gpu-"))
    device = "cuda" if cuda else "cpu"
    name = torch.cuda.get_device_name(0) if cuda else "cpu"
    print(f"device: {name}; shape: {shape}; seq {seq}, batch {args.batch_size}", flush=True)

    start = time.monotonic()
    params = build_model(work / "model", shape, device)
    print(f"built and saved the random model in {time.monotonic() - start:.0f} s", flush=True)
    write_data(work / "train.jsonl", args.steps * args.batch_size, words_per_example=seq * 2)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sections = _sections(args, work, seq, cuda)
    code = train_main(from_dict(sections), workspace=work)
    if code != 0:
        print(f"training exited with {code}")
        return 1
    tokens_per_s, summary = _rate(work / "run", args.warmup)
    layers, hidden = shape["num_hidden_layers"], shape["hidden_size"]
    flops_per_token = 6 * params + 12 * layers * hidden * seq
    peak = peak_flops(name) if cuda else None
    print(f"parameters (no input embedding): {params / 1e9:.3f} B")
    print(f"tokens/s (median after {args.warmup} warm-up steps): {tokens_per_s:,.0f}")
    print(f"peak memory (4-bit load + training): {summary['peak_memory_bytes'] / 2**30:.2f} GiB")
    if peak:
        mfu = tokens_per_s * flops_per_token / peak
        print(
            f"MFU: {mfu:.1%} of {peak / 1e12:.0f} TFLOP/s ({flops_per_token / 1e9:.1f} GFLOP/token)"
        )
    else:
        print("MFU: n/a (unknown device peak)")
    if cuda:  # give GPU 0 back before the data-parallel processes start
        import gc

        gc.collect()
        torch.cuda.empty_cache()
    if args.gpus > 1 and _scaling(args, work, sections, tokens_per_s) != 0:
        return 1
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


def _sections(args: argparse.Namespace, work: Path, seq: int, cuda: bool) -> dict:
    return {
        "model": {"name": str(work / "model")},
        "data": {"train_file": str(work / "train.jsonl")},
        "quantization": {"mode": "4bit", "quant_type": "nf4", "double_quant": True},
        "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "auto"},
        "train": {
            "max_steps": args.steps,
            "batch_size": args.batch_size,
            "max_length": seq,
            "gradient_checkpointing": True,
            "optimizer": "paged_adamw_8bit" if cuda else "adamw_torch",
            "warmup_ratio": 0.0,
            "logging_steps": 1,
            "save_steps": args.steps,
            "save_total_limit": 1,
        },
        "output": {"dir": "run"},  # relative: output.dir stays in the workspace
    }


def _rate(run: Path, warmup: int) -> tuple[float, dict]:
    """Median tokens/s after the warm-up steps (all processes' tokens: rank 0 logs the sum)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rates = [r["tokens_per_s"] for r in rows if r.get("tokens_per_s") and r["step"] > warmup]
    summary = json.loads((run / "summary.json").read_text())
    return (statistics.median(rates) if rates else summary["tokens_per_second"]), summary


def _scaling(args: argparse.Namespace, work: Path, sections: dict, one_gpu: float) -> int:
    """Train again on `--gpus` processes; print tokens/s and the scaling efficiency."""
    import subprocess

    import yaml

    from contract.env import GPU_PROCESSES

    write_data(work / "train.jsonl", args.steps * args.batch_size * args.gpus, args.seq * 2)
    sections = {**sections, "output": {"dir": f"run-{args.gpus}"}}
    config = work / f"config-{args.gpus}.yaml"
    config.write_text(yaml.safe_dump(sections), encoding="utf-8")
    env = {**os.environ, GPU_PROCESSES: str(args.gpus), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "training", "--config", str(config), "--workspace", str(work)]
    code = subprocess.run(argv, cwd=ROOT, env=env).returncode
    if code != 0:
        print(f"data-parallel training exited with {code}")
        return 1
    tokens_per_s, _ = _rate(work / f"run-{args.gpus}", args.warmup)
    efficiency = tokens_per_s / (args.gpus * one_gpu)
    print(f"tokens/s with {args.gpus} GPUs: {tokens_per_s:,.0f}")
    print(f"scaling efficiency: {efficiency:.0%} (tokens/s with {args.gpus} / {args.gpus} x one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
