"""Regenerate the locks: `requirements.lock`, `requirements-train.lock`, `requirements-serve.lock`.

    pip install uv && python -m bootstrap.refresh          # keep every pin that still resolves
    pip install uv && python -m bootstrap.refresh --upgrade  # move every pin to the newest allowed
    python -m bootstrap.refresh --upgrade-package openai      # move one package (and its needs)

`requirements.lock` pins every extra of pyproject.toml (core, infra, train, serve, dev) for Python
3.11 on every platform (uv's universal resolution), with torch at the CPU build the README installs.
It is used as pip constraints (`-c requirements.lock`) by README command 1, README command 2 and
`.ci/run`, so a fresh machine installs exactly what CI tested; tests/bootstrap/test_lock.py fails
when it and pyproject.toml disagree. Pins are kept where they still resolve (uv prefers the versions
already in the output file), so a refresh after adding one dependency moves nothing else; after a
refresh, run `python -m bootstrap.drift` to see what the ranges would admit beyond the lock.

The two image locks prefer the versions of `requirements.lock`, so the job and the app run what
the tests ran wherever the image's torch allows. Each image lock is compiled by
`uv pip compile --generate-hashes` from `requirements-<extra>.txt` (kept equal to pyproject's
`train` / `serve` extras by tests/stacks/test_requirements.py) for the image's Python on Linux
x86-64, with torch held at the image's version. torch is in the image, so torch
and the packages only torch needs (CUDA wheels, triton, sympy, ...) are left out of the lock:
the job installs the lock with `--no-deps`, on top of the image.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from contract import stack_config
from contract.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("train", "serve")
PROJECT_LOCK = "requirements.lock"
LOCAL_TORCH = "2.13.0"  # the CPU build README command 1 and .ci/run install first
IMAGE_PYTHON = "3.11"  # docker.io/pytorch/pytorch:2.x images ship CPython 3.11
PLATFORM = "x86_64-manylinux_2_28"
IN_IMAGE = "torch"


def image_torch(image: str | None = None) -> str:
    """The torch version of the stack's default image (its tag: pytorch/pytorch:<torch>-cuda...),
    read from the `image` key's default in the table of stack keys (contract.stack_config)."""
    image = image or str(stack_config.default("image"))
    found = re.fullmatch(r"[^\s]*pytorch:(\d+\.\d+\.\d+)-\S*", image)
    if not found:
        raise SystemExit(f"cannot read torch's version from the default image {image!r}")
    return found.group(1)


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """(package name, its lines) per requirement in uv's output; header lines under name ''."""
    blocks: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==", line)
        if match:
            blocks.append((match.group(1).lower(), [line]))
        else:
            blocks[-1][1].append(line)
    return blocks


def _via(lines: list[str]) -> set[str]:
    """The packages a block says it is required by (uv's `# via` annotations)."""
    names: set[str] = set()
    for line in lines:
        text = line.strip().removeprefix("#").strip()
        text = text.removeprefix("via").strip()
        if line.strip().startswith("#") and text and not text.startswith("-"):
            names.add(text.split()[0].lower())
    return names


def drop_image_packages(text: str, dropped: str = IN_IMAGE) -> str:
    """Remove `dropped` and every package that only it (or other removed ones) requires."""
    blocks = _blocks(text)
    gone = {dropped}
    changed = True
    while changed:
        changed = False
        for name, lines in blocks[1:]:
            via = _via(lines)
            if name not in gone and via and via <= gone:
                gone.add(name)
                changed = True
    kept = [lines for name, lines in blocks if name not in gone]
    header = f"# Left out (in the image): {', '.join(sorted(gone))}"
    return "\n".join([header, *(line for lines in kept for line in lines)]) + "\n"


def _pins(text: str) -> str:
    """The `name==version` lines of a lock, markers and hashes left out: uv's preferences."""
    found = re.findall(r"^([A-Za-z0-9_.-]+==[^\s\\;]+)", text, flags=re.MULTILINE)
    return "\n".join(sorted(set(found))) + "\n"


def compile_project_lock(torch: str, uv: str, upgrade: bool, packages: list[str]) -> str:
    """`requirements.lock`: every extra, every platform, as pip constraints (no hashes: the CPU
    torch wheel and the editable project itself could not satisfy `--require-hashes`)."""
    path = ROOT / PROJECT_LOCK
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(f"torch=={torch}\n")
        out = Path(tmp) / "lock.txt"
        if path.exists() and not upgrade:
            out.write_text(_pins(path.read_text()))
        subprocess.run(
            [
                uv, "pip", "compile", str(ROOT / "pyproject.toml"), "--all-extras", "--universal",
                "--python-version", IMAGE_PYTHON, "--constraint", str(constraints),
                "--no-header", "--index-url", "https://pypi.org/simple", "-o", str(out),
                *(arg for name in packages for arg in ("--upgrade-package", name)),
            ],
            check=True,
        )  # fmt: skip
        body = out.read_text().replace(f"-c {constraints}", "-c (torch, bootstrap/refresh.py)")
    return (
        "# Generated by `python -m bootstrap.refresh` from pyproject.toml (every extra) for\n"
        f"# Python {IMAGE_PYTHON}, all platforms, torch=={torch}. Every local install and CI use\n"
        "# it as pip constraints (-c requirements.lock). Do not edit by hand.\n" + body
    )


def compile_lock(extra: str, torch: str, uv: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(f"torch=={torch}\n")
        out = Path(tmp) / "lock.txt"
        project_lock = ROOT / PROJECT_LOCK
        if project_lock.exists():  # prefer what the tests ran; torch's own pin is dropped
            pins = _pins(project_lock.read_text()).splitlines()
            out.write_text("\n".join(p for p in pins if not p.startswith("torch==")) + "\n")
        subprocess.run(
            [
                uv, "pip", "compile", str(ROOT / f"requirements-{extra}.txt"),
                "--generate-hashes", "--python-version", IMAGE_PYTHON,
                "--python-platform", PLATFORM, "--constraint", str(constraints),
                "--no-header", "--index-url", "https://pypi.org/simple", "-o", str(out),
            ],
            check=True,
        )  # fmt: skip
        body = drop_image_packages(out.read_text())
    return (
        f"# Generated by `python -m bootstrap.refresh` from requirements-{extra}.txt for Python\n"
        f"# {IMAGE_PYTHON} on {PLATFORM}, torch=={torch} (the image's). Do not edit by hand.\n"
        + body
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap.refresh", description=__doc__)
    parser.add_argument("--uv", default="uv", help="the uv executable (default: uv on PATH)")
    parser.add_argument("--torch", default=None, help="torch version in the image")
    parser.add_argument(
        "--upgrade", action="store_true", help="move requirements.lock's pins to the newest allowed"
    )
    parser.add_argument(
        "--upgrade-package", action="append", default=[], metavar="NAME",
        help="move this package (and what it needs) to the newest allowed; repeatable",
    )  # fmt: skip
    args = parser.parse_args(argv)
    torch = args.torch or image_torch()
    lock = compile_project_lock(LOCAL_TORCH, args.uv, args.upgrade, args.upgrade_package)
    (ROOT / PROJECT_LOCK).write_text(lock)
    print(f"wrote {PROJECT_LOCK}", file=sys.stderr)
    for extra in EXTRAS:
        path = ROOT / f"requirements-{extra}.lock"
        path.write_text(compile_lock(extra, torch, args.uv))
        print(f"wrote {path.name}", file=sys.stderr)
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
