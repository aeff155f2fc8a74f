"""The training config read from YAML: `load_config(path)` / `parse_config(text)` / `from_dict(raw)`
give a checked `TrainingConfig` (no torch).

What a config is (its dataclasses, defaults and `ConfigError`) lives in `training.spec.schema`, the
checks in `training.spec.config_checks`; both sit below this module, which is where callers import
the lot from. Unknown keys, wrong types and values outside their allowed set raise `ConfigError`,
which names the key, its section and the line in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.spec import yamlfile
from training.spec.config_checks import build_section, check_combinations
from training.spec.schema import (
    REQUIRED,
    SECTIONS,
    ConfigError,
    DataSection,
    LoraSection,
    ModelSection,
    OutputSection,
    QuantizationSection,
    TrackingSection,
    TrainingConfig,
    TrainSection,
    defaults,
    to_dict,
)

__all__ = [
    "ConfigError",
    "DataSection",
    "LoraSection",
    "ModelSection",
    "OutputSection",
    "QuantizationSection",
    "TrackingSection",
    "TrainSection",
    "TrainingConfig",
    "defaults",
    "from_dict",
    "load_config",
    "parse_config",
    "to_dict",
]


def load_config(path: str | Path) -> TrainingConfig:
    """Read and check a training config file; raises `ConfigError` naming the offending key."""
    path = Path(path)
    try:
        text = yamlfile.read_text(path)
    except yamlfile.YamlFileError as exc:
        raise ConfigError(exc.message, line=exc.line) from None
    return parse_config(text, source=path)


def parse_config(text: str, source: Path | None = None) -> TrainingConfig:
    """Parse YAML text into a `TrainingConfig` (see `load_config`)."""
    try:
        raw, lines = yamlfile.load(text)
    except yamlfile.YamlFileError as exc:
        raise ConfigError(exc.message, line=exc.line) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of sections (model, data, ...)", line=1)
    return from_dict(raw, lines=lines, source=source)


def from_dict(
    raw: dict[str, Any], *, lines: dict[str, int] | None = None, source: Path | None = None
) -> TrainingConfig:
    """Build a `TrainingConfig` from plain data; `lines` maps keys to their lines in the file."""
    lines = lines or {}
    for name in raw:
        if name not in SECTIONS:
            raise ConfigError(
                f"unknown section {name!r}; known sections: {', '.join(SECTIONS)}",
                key=str(name),
                line=lines.get(str(name)),
            )
    for name in REQUIRED:
        if name not in raw:
            raise ConfigError(f"missing section {name!r}", key=name)
    sections = {
        name: build_section(name, cls, raw.get(name), lines) for name, cls in SECTIONS.items()
    }
    config = TrainingConfig(**sections, source=source)
    check_combinations(config, lines)
    return config
