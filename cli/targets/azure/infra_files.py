"""Read the AI Toolkit's `infra/*.config.json` files as they are into a `TargetConfig`.

Several files merge (finetuning + inference); a key given non-null in two files with different
values is an error, since the target would be ambiguous. Nulls are remembered so the error for
a needed key names the file to fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli.errors import UsageError
from cli.targets.azure.config import TargetConfig
from contract import outputs as keys


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(
            f"--infra file {path} does not exist",
            hint="pass the AI Toolkit's infra/finetuning.config.json (and inference.config.json)",
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read --infra file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a JSON object of KEY: value pairs")
    return data


def read_infra_files(files: list[Path]) -> TargetConfig:
    if not files:
        raise UsageError("--infra needs at least one config file")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    nulls: dict[str, str] = {}
    secrets: dict[str, Any] = {}
    for path in files:
        for key, value in _load(path).items():
            if value is None:
                nulls.setdefault(key, str(path))
                continue
            if key in keys.SECRET_KEYS:
                secrets[key] = value
                continue
            if key in values and values[key] != value:
                raise UsageError(
                    f"{key} differs between {sources[key]} and {path}",
                    hint="the files must describe one deployment; fix one of them",
                )
            values[key] = value
            sources[key] = str(path)
    for key in list(nulls):
        if key in values:
            del nulls[key]  # null in one file, given in another: the given value wins
    origin = ", ".join(str(p) for p in files)
    return TargetConfig(origin=origin, values=values, sources=sources, nulls=nulls, secrets=secrets)
