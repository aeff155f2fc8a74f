"""Measured peak training memory vs `training.spec.memory.estimate`, on CPU.

    python benchmarks/memory.py                 # every case (SmolLM2 takes minutes)
    python benchmarks/memory.py --model tiny --json

Each case runs `training.train.main` in a fresh process for a few steps. Measured peak = the
model's tensors when training starts (frozen weights + adapter) + the highest rise of live tensor
bytes during `trainer.train()`: the PyTorch profiler's allocation records (allocations positive,
frees negative) summed in time order. The process's resident-memory rise (VmHWM after resetting
it through /proc/self/clear_refs) is reported beside it; it also counts Python objects, lazy
imports and allocator arenas, which the estimate does not model. Estimate and measurement should
agree within 25% (`ftk doctor`'s claim); GPU figures are not measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "fine",
    "tuning",
    "adapts",
    "a",
    "pretrained",
    "model",
    "to",
    "task",
    "with",
    "small",
    "dataset",
    "capital",
    "of",
    "france",
    "is",
    "paris",
    "sweden",
    "stockholm",
    "deploy",
    "azure",
    "container",
    "apps",
]

CASES: dict[str, dict[str, Any]] = {
    # The tests' tiny Llama (testkit/tiny_models.py), with the train settings of a CPU smoke run.
    "tiny": {
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "train": {"batch_size": 4, "max_length": 128, "gradient_checkpointing": False},
    },
    # A wider random Llama (benchmarks/train.py's), with gradient checkpointing: activations count.
    "small-ckpt": {
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "train": {"batch_size": 8, "max_length": 128, "gradient_checkpointing": True},
    },
    # The same two with DPO on pairs: chosen and rejected together, plus the reference pass.
    "tiny-dpo": {
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "train": {
            "batch_size": 4,
            "max_length": 128,
            "gradient_checkpointing": False,
            "method": "dpo",
        },
    },
    "small-ckpt-dpo": {
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "train": {
            "batch_size": 8,
            "max_length": 128,
            "gradient_checkpointing": True,
            "method": "dpo",
        },
    },
    # ORPO: no reference pass, but the full logits of chosen and rejected (trl.experimental.orpo).
    "tiny-orpo": {
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "train": {
            "batch_size": 4,
            "max_length": 128,
            "gradient_checkpointing": False,
            "method": "orpo",
        },
    },
    # training/examples/smollm2-cpu.yaml's model and settings (fewer steps).
    "smollm2": {
        "model": "SmolLM2-135M-Instruct",
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "last_layers": 8},
        "train": {"batch_size": 8, "max_length": 256, "gradient_checkpointing": False},
    },
}


def _status_kib(key: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{key}:\s+(\d+)", text).group(1))  # type: ignore[union-attr]


def _allocator_peak(prof: Any) -> int:
    """Highest rise of live tensor bytes during the profile: the running sum of the allocator's
    [memory] records (allocations positive, frees negative), in time order."""
    records = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for record in sorted(records, key=lambda e: e.start_ns()):
        live += record.nbytes()
        peak = max(peak, live)
    return peak


def _write_data(path: Path, rows: int, words: int, pairs: bool = False) -> None:
    rng = random.Random(0)

    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    if pairs:  # a short prompt; each answer fills the rest of max_length
        prompt = words // 8
        lines = [
            json.dumps({"prompt": text(prompt), "chosen": text(words), "rejected": text(words)})
            for _ in range(rows)
        ]
    else:
        lines = [json.dumps({"text": text(words)}) for _ in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _config(case: str, work: Path, steps: int) -> dict[str, Any]:
    spec = CASES[case]
    if case.startswith("tiny"):
        sys.path.insert(0, str(ROOT))
        from testkit.tiny_models import build_tiny_model

        model = str(build_tiny_model(work / "tiny-model"))
    elif case.startswith("small-ckpt"):
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from train import build_model

        model = str(build_model(work / "small-model", hidden=256, layers=4))
    else:
        model = spec["model"]
    train = spec["train"]
    pairs = train.get("method", "sft") != "sft"
    rows, words = train["batch_size"] * steps, train["max_length"]
    _write_data(work / "train.jsonl", rows=rows, words=words, pairs=pairs)
    data = {"train_file": str(work / "train.jsonl")}
    if not pairs:
        data["format"] = "text"
    return {
        "model": {"name": model},
        "data": data,
        "quantization": {"mode": "none"},
        "lora": spec["lora"],
        "train": {
            **train,
            "max_steps": steps,
            "precision": "fp32",
            "optimizer": "adamw_torch",
            "logging_steps": 1,
            "save_steps": 1000,
            "warmup_ratio": 0.0,
        },
        "output": {"dir": "run"},  # relative: output.dir stays inside the workspace
    }


def _measure_here(case: str, work: Path, steps: int) -> dict[str, Any]:
    """Run one case in this process and return measured and estimated bytes."""
    from training import preference_trainer, sft_trainer, train
    from training.spec.config import from_dict
    from training.spec.memory import estimate, find_shape

    raw = _config(case, work, steps)
    config = from_dict(raw)
    seen: dict[str, int] = {}
    module = preference_trainer if config.train.method != "sft" else sft_trainer
    build = module.build_trainer

    def trainer_with_probe(*args: Any, **kwargs: Any) -> Any:
        trainer = build(*args, **kwargs)
        run_train = trainer.train

        def probed(*a: Any, **k: Any) -> Any:
            from torch.profiler import ProfilerActivity, profile

            model = trainer.model
            seen["tensors"] = sum(p.numel() * p.element_size() for p in model.parameters())
            seen["tensors"] += sum(b.numel() * b.element_size() for b in model.buffers())
            seen["rss_before"] = _status_kib("VmRSS") * 1024
            Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
            with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
                result = run_train(*a, **k)
            seen["hwm"] = _status_kib("VmHWM") * 1024
            seen["allocated_peak"] = _allocator_peak(prof)
            return result

        trainer.train = probed
        return trainer

    module.build_trainer = trainer_with_probe
    if train.main(config, workspace=work) != 0:
        raise SystemExit(f"{case}: training failed")
    from training.spec.paths import model_cache

    name = raw["model"]["name"]
    folders = [Path(name), model_cache(work) / name.replace("/", "--")]
    from training.spec.catalog import find

    entry = find(name)
    if entry:
        folders.append(model_cache(work) / entry.hf_id.replace("/", "--"))
    shape = find_shape(name, folders)
    assert shape is not None, f"no shape for {name}"
    est = estimate(config, shape, gpu=None)
    measured = seen["tensors"] + seen["allocated_peak"]
    return {
        "case": case,
        "measured": measured,
        "estimate": est.total,
        "ratio": round(est.total / measured, 3),
        "parts": est.to_dict(),
        "tensors_at_start": seen["tensors"],
        "allocated_peak_during_train": seen["allocated_peak"],
        "rss_rise_during_train": seen["hwm"] - seen["rss_before"],
    }


def measure(case: str, steps: int = 3, cache: Path | None = None) -> dict[str, Any]:
    """Run one case in a fresh Python process (so earlier cases leave no memory behind)."""
    with tempfile.TemporaryDirectory(prefix=f"ftk-mem-{case}-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        if cache is not None:
            env["FTK_MODEL_CACHE"] = str(cache)
        out = subprocess.run(
            [sys.executable, __file__, "--child", case, "--work", tmp, "--steps", str(steps)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{case} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", choices=[*CASES, "all"], default="all")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--json", action="store_true")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ftk-memory-cache")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        import logging

        logging.disable(logging.WARNING)
        print(json.dumps(_measure_here(args.child, args.work, args.steps)))
        return
    cases = list(CASES) if args.model == "all" else [args.model]
    results = [measure(c, args.steps, args.cache) for c in cases]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(
            f"{r['case']:8s} measured {r['measured'] / 2**20:8.1f} MiB   "
            f"estimate {r['estimate'] / 2**20:8.1f} MiB   ratio {r['ratio']:.2f}"
        )


if __name__ == "__main__":
    main()
