"""`ftk export RUN`: the run's base with its adapter merged (safetensors), or a GGUF + Modelfile.

The run is read where `ftk eval` reads it (`./runs/RUN`, or the local share); the command
downloads it first when it is on the target only. The merge is `inference.merge` (float32 on CPU);
the GGUF is written by llama.cpp's own converter and loaded back to check it
(`inference.export`). Everything is written into a staging folder renamed into place at the end,
so a failed export leaves no half a model at `--to`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cli.errors import UsageError
from cli.ops.evaluate import RunFiles, model_cache, resolve_base

FORMATS = ("merged", "gguf")
OUTTYPES = ("f16", "bf16", "q8_0")
MergedDtype = Literal["auto", "float32", "bfloat16", "float16"]  # MergeSettings.dtype
MERGED_DTYPES: dict[str | None, MergedDtype] = {None: "auto", "f16": "float16", "bf16": "bfloat16"}
DEFAULT_GGUF_OUTTYPE = "f16"
REPORT_FILE = "export.json"
MODELFILE = "Modelfile"

Step = Callable[[str], None]


@dataclass
class ExportResult:
    run_id: str
    format: str
    outtype: str
    dest: Path
    base_model: str
    files: list[str] = field(default_factory=list)
    check: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "format": self.format,
            "outtype": self.outtype,
            "dest": str(self.dest),
            "base_model": self.base_model,
            "files": self.files,
            "check": self.check,
        }


def check_request(fmt: str, outtype: str | None, dest: Path) -> str:
    """The outtype to write; UsageError for a combination that cannot be exported."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "merged" and outtype not in MERGED_DTYPES:
        raise UsageError(
            f"--outtype {outtype} is a GGUF type; merged safetensors are f16, bf16 or the "
            "base's own",
            hint="use --format gguf --outtype q8_0, or --format merged --outtype f16",
        )
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} exists and is not an empty folder", hint="choose a new --to")
    if fmt == "merged":
        return outtype or "auto"
    return outtype or DEFAULT_GGUF_OUTTYPE


def export_run(
    run: RunFiles,
    fmt: str,
    dest: Path,
    *,
    outtype: str | None = None,
    base: str | None = None,
    cache: Path | None = None,
    verify: bool = True,
    on_step: Step | None = None,
) -> ExportResult:
    """Write RUN's merged model, or its GGUF + Modelfile, into `dest` (new or empty)."""
    step = on_step or (lambda _message: None)
    outtype = check_request(fmt, outtype, dest)
    try:
        from inference.export import ExportError, check_convertible
        from inference.merge import merge
        from inference.models import ModelError
        from inference.settings import MergeSettings
    except ImportError as exc:
        raise UsageError(
            f"export needs the serve extra ({exc.name} is missing)",
            hint="pip install 'ftk[serve,export]'",
        ) from None
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the command shows its own steps
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF loader's own bar (tqdm)
    base_path = resolve_base(base or run.base_model, cache or model_cache())
    result = ExportResult(run.run_id, fmt, outtype, dest, base or run.base_model)
    staging = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        if fmt == "gguf":
            step("checking that llama.cpp's converter knows the architecture")
            check_convertible(base_path)
        merged = staging if fmt == "merged" else staging / ".merged"
        step(f"merging the adapter into {base_path.name}")
        dtype = MERGED_DTYPES[None if outtype == "auto" else outtype] if fmt == "merged" else None
        merge(
            MergeSettings(
                base=str(base_path),
                adapter=str(run.adapter),
                out=merged,
                dtype=dtype or "float32",
            )
        )
        if fmt == "gguf":
            result.check = _gguf(run.run_id, merged, staging, outtype, verify, step)
            shutil.rmtree(merged)
        report = {**result.to_dict(), "adapter": str(run.adapter)}
        for key in ("dest", "files"):
            report.pop(key)
        (staging / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        result.files = sorted(p.name for p in staging.iterdir())
        if dest.exists():
            dest.rmdir()  # empty, checked above
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, dest)
    except ExportError as exc:
        raise UsageError(str(exc), hint=_hint(str(exc))) from None
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _gguf(
    run_id: str, merged: Path, staging: Path, outtype: str, verify: bool, step: Step
) -> dict[str, Any] | None:
    from inference.export import convert, modelfile
    from inference.export import verify as verify_gguf

    gguf = staging / f"{run_id}-{outtype}.gguf"
    step(f"converting to GGUF ({outtype}) with llama.cpp's converter")
    convert(merged, gguf, outtype, name=run_id)
    (staging / MODELFILE).write_text(modelfile(gguf.name, merged), encoding="utf-8")
    if not verify:
        return None
    step("loading the GGUF back and comparing it with the merged model")
    return verify_gguf(merged, gguf, outtype).to_dict()


def _hint(message: str) -> str | None:
    if "pip install" in message:
        return None
    if "converter" in message:
        return "export --format merged works for every model transformers loads"
    return None
