"""Training overhead: ftk's entry point vs a plain TRL `SFTTrainer` script, same model and data.

    python benchmarks/train.py                      # small random Llama, CPU, ~2 minutes
    python benchmarks/train.py --steps 40 --rounds 3 --hidden 384

One process builds a small random-weight Llama-shaped model (with a trained tokenizer) and a text
dataset, then alternates: `training.train.main(config)` (config parsing, validation, callbacks,
`.complete` markers, metrics.jsonl, summary, adapter) and a plain TRL script with the same
SFTConfig settings (LoRA on the same modules, fp32, no quantization, same batch, length, steps and
saves, first-step logging and data seed). Each side's tokens/s is non-padding tokens over
`trainer.train()` wall time. The best round of each side is compared (the least disturbed by other
processes on a shared machine), with the medians beside it; the ratio is ours / plain (target
>= 0.95).

Like with like: both sides are warmed up once (ftk's first run imports its own modules and
matplotlib), and garbage is collected before every timed run, because `trainer.train()` starts
with a full `gc.collect()` that would otherwise charge the previous run's leftovers to whichever
side runs next. Run-to-run noise on a shared 2-core machine is several percent, so use enough
rounds (default 5) before reading anything into a ratio; the median of per-round ratios (each
round's two runs are adjacent in time) is the least noisy figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SENTENCE = (
    "the quick brown fox jumps over lazy dog fine tuning adapts a pretrained model to task "
    "with small dataset capital of france is paris sweden stockholm deploy azure container apps"
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=24, help="optimizer steps per timed run")
    p.add_argument("--rounds", type=int, default=5, help="timed runs per side (alternating)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256, help="model width (layers: --layers)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    return p.parse_args()


def build_model(out: Path, hidden: int, layers: int) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from testkit.tiny_models import build_tokenizer

    tokenizer = build_tokenizer(out)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3,
        num_hidden_layers=layers,
        num_attention_heads=max(4, hidden // 64),
        num_key_value_heads=max(2, hidden // 128),
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    return out


def write_data(path: Path, n: int) -> None:
    rng, words = random.Random(0), SENTENCE.split()
    rows = [
        {"text": " ".join(rng.choice(words) for _ in range(rng.randint(40, 90)))} for _ in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def settings(args: argparse.Namespace) -> dict:
    """The knobs both sides share, in ftk's config vocabulary."""
    return {
        "learning_rate": 2e-4,
        "max_steps": args.steps,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "gradient_checkpointing": False,
        "optimizer": "adamw_torch",
        "lr_scheduler": "cosine",
        "warmup_ratio": 0.0,
        "precision": "fp32",
        "logging_steps": 5,
        "save_steps": args.steps,
        "save_total_limit": 1,
    }


def run_ours(model: Path, data: Path, work: Path, args: argparse.Namespace) -> float:
    from training.spec.config import from_dict
    from training.train import main

    run = work / f"ours-{time.monotonic_ns()}"
    config = from_dict(
        {
            "model": {"name": str(model)},
            "data": {"train_file": str(data)},
            "quantization": {"mode": "none"},
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
            "train": settings(args),
            "output": {"dir": run.name},  # relative: output.dir stays in the workspace
        }
    )
    if main(config, workspace=work) != 0:
        raise SystemExit("ftk training failed")
    summary = json.loads((run / "summary.json").read_text())
    return summary["tokens"] / summary["train_seconds"]


def run_plain(model: Path, data: Path, work: Path, args: argparse.Namespace) -> float:
    """What a user would write with TRL alone."""
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from training.spec.catalog import target_modules_for

    s = settings(args)
    tokenizer = AutoTokenizer.from_pretrained(model)
    base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    trainer = SFTTrainer(
        model=base,
        args=SFTConfig(
            output_dir=str(work / f"plain-{time.monotonic_ns()}"),
            learning_rate=s["learning_rate"],
            max_steps=s["max_steps"],
            per_device_train_batch_size=s["batch_size"],
            max_length=s["max_length"],
            gradient_checkpointing=False,
            optim=s["optimizer"],
            lr_scheduler_type=s["lr_scheduler"],
            bf16=False,
            fp16=False,
            use_cpu=not torch.cuda.is_available(),
            logging_steps=s["logging_steps"],
            logging_first_step=True,
            save_steps=s["save_steps"],
            save_total_limit=1,
            seed=42,
            data_seed=42,
            include_num_input_tokens_seen="non_padding",
            report_to="none",
            disable_tqdm=True,
        ),
        train_dataset=load_dataset("json", data_files=str(data), split="train"),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=8, lora_alpha=16, lora_dropout=0.0, target_modules=list(target_modules_for("llama"))
        ),
    )
    start = time.monotonic()
    trainer.train()
    elapsed = time.monotonic() - start
    return trainer.state.num_input_tokens_seen / elapsed


def main() -> None:
    args = parse_args()
    import logging

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("training").setLevel(logging.ERROR)
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    work = Path(tempfile.mkdtemp(prefix="ftk-bench-train-"))
    try:
        compare(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # models and checkpoints: ~40 MB a run


def compare(args: argparse.Namespace, work: Path) -> None:
    import torch

    model = build_model(work / "model", args.hidden, args.layers)
    data = work / "train.jsonl"
    write_data(data, n=args.steps * args.batch_size)
    print(
        f"model: Llama-shaped, hidden {args.hidden}, {args.layers} layers; {args.steps} steps x "
        f"batch {args.batch_size}, max_length {args.max_length}, CPU threads "
        f"{torch.get_num_threads()}",
        flush=True,
    )
    warm = argparse.Namespace(**{**vars(args), "steps": 3})
    run_plain(model, data, work, warm)  # warm-up: imports, allocator, kernels
    run_ours(model, data, work, warm)  # and ftk's own first-run imports (yaml, matplotlib)
    ours, plain = [], []
    for round_ in range(args.rounds):
        order = [("ours", run_ours), ("plain", run_plain)]
        for name, fn in order if round_ % 2 == 0 else reversed(order):
            gc.collect()  # the previous run's garbage is not this side's cost
            rate = fn(model, data, work, args)
            (ours if name == "ours" else plain).append(rate)
            print(f"round {round_ + 1}: {name:5s} {rate:10.1f} tokens/s", flush=True)
    print(f"{'':26s} {'best':>10s} {'median':>10s}  (tokens/s)")
    print(f"ftk (python -m training): {max(ours):10.1f} {statistics.median(ours):10.1f}")
    print(f"plain TRL SFTTrainer:     {max(plain):10.1f} {statistics.median(plain):10.1f}")
    ratio, median_ratio = max(ours) / max(plain), statistics.median(ours) / statistics.median(plain)
    print(f"ratio ftk / plain:        {ratio:10.3f} {median_ratio:10.3f}  (target >= 0.95)")
    paired = statistics.median(o / p for o, p in zip(ours, plain, strict=True))
    print(f"median of per-round ratios (adjacent runs, least noisy): {paired:.3f}")


if __name__ == "__main__":
    main()
