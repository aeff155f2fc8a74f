"""What the job and the app pip-install agrees with the `train` / `serve` extras."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from contract import commands

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


def _lock(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """name -> pinned version, name -> number of hashes, from a `--generate-hashes` lock."""
    pins: dict[str, str] = {}
    hashes: dict[str, int] = {}
    name = None
    for line in path.read_text().splitlines():
        pinned = re.match(r"([A-Za-z0-9_.-]+)==([^ \\;]+)", line)
        if pinned:
            name = pinned.group(1).lower().replace("_", "-")
            pins[name], hashes[name] = pinned.group(2), 0
        elif name and line.strip().startswith("--hash=sha256:"):
            hashes[name] += 1
    return pins, hashes


@pytest.mark.parametrize(
    ("requirements", "lock"),
    [
        (commands.TRAIN_REQUIREMENTS, commands.TRAIN_LOCK),
        (commands.SERVE_REQUIREMENTS, commands.SERVE_LOCK),
    ],
)
def test_lock_pins_every_requirement_within_its_range_with_hashes(
    requirements: str, lock: str
) -> None:
    """The job and the app install the lock, not the ranges: every requirement of the extra (and
    of the core deps the code imports) is pinned in range, and every pin carries a hash. torch is
    the image's and never in the lock."""
    from packaging.requirements import Requirement

    pins, hashes = _lock(ROOT / lock)
    for spec in _requirements((ROOT / requirements).read_text().splitlines()).values():
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        if name == "torch":
            assert name not in pins, f"{lock}: torch comes with the image; refresh the lock"
            continue
        assert name in pins, f"{lock}: {spec!r} is not pinned; run `python -m bootstrap.refresh`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{lock}: {name}=={pins[name]} is outside {spec!r}; run `python -m bootstrap.refresh`"
        )
    unhashed = [name for name, n in hashes.items() if n == 0]
    assert not unhashed, f"{lock}: pins without a hash: {unhashed}"
    assert not {"triton", "nvidia-cublas-cu12"} & pins.keys(), f"{lock}: torch's own deps"


def test_drop_image_packages_keeps_what_others_need() -> None:
    """The refresh removes torch and what only torch needs, never a package others need too."""
    from bootstrap.refresh import drop_image_packages

    compiled = (
        "filelock==3.0 \\\n    --hash=sha256:aa\n    # via\n    #   torch\n    #   transformers\n"
        "sympy==1.0 \\\n    --hash=sha256:bb\n    # via torch\n"
        "mpmath==1.0 \\\n    --hash=sha256:cc\n    # via sympy\n"
        "torch==2.8.0 \\\n    --hash=sha256:dd\n    # via -r requirements-train.txt\n"
        "transformers==5.0 \\\n    --hash=sha256:ee\n    # via -r requirements-train.txt\n"
    )
    kept = set(re.findall(r"^([a-z]+)==", drop_image_packages(compiled), re.M))
    assert kept == {"filelock", "transformers"}
