"""What the job and the app pip-install agrees with the `train` / `serve` extras."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _requirements(lines: list[str]) -> dict[str, str]:
    reqs = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name = re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower().replace("_", "-")
            reqs[name] = line
    return reqs


@pytest.mark.parametrize(
    ("extra", "path"), [("train", "requirements-train.txt"), ("serve", "requirements-serve.txt")]
)
def test_requirements_file_matches_the_extra(extra: str, path: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirements(project["optional-dependencies"][extra])
    core = _requirements(project["dependencies"])
    have = _requirements((ROOT / path).read_text().splitlines())
    for name, spec in wanted.items():
        assert have.get(name) == spec, (
            f"{path}: {name} should read {spec!r}, has {have.get(name)!r}"
        )
    for name, spec in have.items():
        assert wanted.get(name, core.get(name)) == spec, f"{path}: {spec!r} is in no extra"
