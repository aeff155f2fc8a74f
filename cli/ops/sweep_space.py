"""The points of a sweep: `--set KEY=VALUES` parsed into a grid or random samples, applied to a
training config.

Syntax of one `--set KEY=VALUES` (KEY is a dotted path into the training YAML):
- `a,b,c`: these values (numbers, `true`/`false`, or text). A grid crosses every list.
- `lo:hi`: a range, only with `--samples N`. Two integers: uniform integers in [lo, hi]. Else
  floats drawn log-uniformly (both > 0), e.g. `1e-5:1e-3`; `lo:hi:lin` draws them uniformly.
With `--samples N`, each of the N points draws every key on its own (a list: one of its values).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

import yaml

from cli.errors import UsageError

Value = int | float | bool | str


@dataclass(frozen=True)
class Choice:
    values: tuple[Value, ...]

    def draw(self, rng: random.Random) -> Value:
        return rng.choice(self.values)


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    integer: bool
    log: bool

    def draw(self, rng: random.Random) -> Value:
        if self.integer:
            return rng.randint(int(self.low), int(self.high))
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return float(f"{value:.3g}")  # readable in run names and tables


Dimension = Choice | Range


def parse_value(text: str) -> Value:
    """`8` -> 8, `1e-4` -> 0.0001, `true` -> True, else the text (YAML 1.1 reads `1e-4` as text)."""
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_set(spec: str) -> tuple[str, Dimension]:
    """One `--set KEY=VALUES`."""
    key, sep, values = spec.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise UsageError(
            f"cannot read --set {spec!r}", hint="use KEY=V1,V2 or KEY=LOW:HIGH (with --samples)"
        )
    if ":" in values and "," not in values:
        return key, _parse_range(key, values)
    return key, Choice(tuple(parse_value(v) for v in values.split(",")))


def _parse_range(key: str, text: str) -> Range:
    parts = text.split(":")
    scale = parts.pop() if len(parts) == 3 else None
    if len(parts) != 2 or scale not in (None, "log", "lin"):
        raise UsageError(f"cannot read the range {key}={text}", hint="use LOW:HIGH[:log|:lin]")
    low, high = (parse_value(p) for p in parts)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        raise UsageError(f"the range {key}={text} needs two numbers")
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if low >= high:
        raise UsageError(f"the range {key}={text} is empty: LOW must be below HIGH")
    integer = isinstance(low, int) and isinstance(high, int) and scale is None
    log = not integer and scale != "lin"
    if log and low <= 0:
        raise UsageError(
            f"the log-uniform range {key}={text} needs LOW > 0", hint=f"use {text}:lin"
        )
    return Range(float(low), float(high), integer, log)


def points(
    specs: list[str], *, samples: int | None = None, seed: int = 0
) -> list[dict[str, Value]]:
    """Every point of the sweep, in a stable order."""
    dims = dict(parse_set(s) for s in specs)
    if not dims:
        raise UsageError("a sweep needs at least one --set KEY=VALUES")
    if samples is None:
        ranges = [k for k, d in dims.items() if isinstance(d, Range)]
        if ranges:
            raise UsageError(
                f"{', '.join(ranges)}: a range needs random samples",
                hint="add --samples N, or list the values: KEY=V1,V2",
            )
        lists = [d.values for d in dims.values() if isinstance(d, Choice)]
        return [dict(zip(dims, combo, strict=True)) for combo in itertools.product(*lists)]
    rng = random.Random(seed)
    return [{k: d.draw(rng) for k, d in dims.items()} for _ in range(samples)]


def apply(config_text: str, values: dict[str, Value]) -> str:
    """The training YAML with each dotted key set (sections made when missing)."""
    data = yaml.safe_load(config_text) or {}
    if not isinstance(data, dict):
        raise UsageError("the training config is not a YAML mapping")
    for key, value in values.items():
        node: Any = data
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"--set {key}: {part} is not a section of the config")
            node = child
        node[leaf] = value
    return yaml.safe_dump(data, sort_keys=False)
