"""What a run's folder on the share says about it: its status word, its adapter, its base model.

One set of functions over any `Share` + `contract.layout.RunLayout`, used by the targets (a
failed execution whose run says `resumable` is shown as resumable) and by `cli/ops` (deploy,
download, resume). A missing or unreadable file reads as "not known", never as an error.
"""

from __future__ import annotations

import json
from typing import Any

from cli.errors import NotFoundError
from cli.targets.base import Share
from contract.layout import RunLayout

RESUMABLE = "resumable"
SUCCEEDED = "succeeded"


def _read(share: Share, path: str) -> bytes | None:
    try:
        if not share.exists(path):
            return None
        return share.read_bytes(path)
    except NotFoundError:
        return None  # deleted between the two calls


def has_config(share: Share, run_id: str) -> bool:
    """The run exists: `ftk run` wrote its config."""
    return share.exists(RunLayout(run_id).config)


def run_status(share: Share, run_id: str | None) -> str | None:
    """The word in `runs/<run>/status` (contract.layout.STATUSES), or None if there is none."""
    if not run_id:
        return None
    data = _read(share, RunLayout(run_id).status)
    if data is None:
        return None
    return data.decode("utf-8", errors="replace").strip() or None


def is_resumable(share: Share, run_id: str | None) -> bool:
    """The run ended on its time budget (or a stop) with a checkpoint: `ftk resume` continues."""
    return run_status(share, run_id) == RESUMABLE


def has_adapter(share: Share, run_id: str) -> bool:
    """The run saved its adapter (PEFT writes adapter_config.json beside the weights)."""
    return share.exists(RunLayout(run_id).adapter_config)


def adapter_config(share: Share, run_id: str) -> dict[str, Any] | None:
    """The run's adapter_config.json (PEFT's LoraConfig), or None when absent or unreadable."""
    data = _read(share, RunLayout(run_id).adapter_config)
    if data is None:
        return None
    try:
        found = json.loads(data)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def base_model(share: Share, run_id: str) -> str | None:
    """The base model a run's adapter was trained on (PEFT records it in adapter_config.json)."""
    found = adapter_config(share, run_id)
    return (found.get("base_model_name_or_path") or None) if found else None
