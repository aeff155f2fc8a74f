"""`requirements.lock` (what every local install and CI use as pip constraints) agrees with
pyproject.toml's ranges, and each range admits no major release that nothing has tested."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

from bootstrap.drift import locked_versions, moved
from bootstrap.refresh import LOCAL_TORCH, PROJECT_LOCK

ROOT = Path(__file__).resolve().parents[2]
REFRESH = "run `python -m bootstrap.refresh`"


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return [Requirement(s) for s in specs if not s.startswith("ftk[")]


def _lock_for_linux_py311() -> dict[str, str]:
    """name -> the version the lock pins on Linux x86-64, CPython 3.11 (markers evaluated)."""
    env = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux"}
    env |= {"platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython"}
    env |= {"platform_python_implementation": "CPython", "platform_system": "Linux"}
    pins: dict[str, str] = {}
    for line in (ROOT / PROJECT_LOCK).read_text().splitlines():
        found = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)\s*(?:;(.*))?$", line)
        if found and (not found.group(3) or Marker(found.group(3)).evaluate(env)):
            pins[re.sub(r"[-_.]+", "-", found.group(1)).lower()] = found.group(2)
    return pins


def _name(req: Requirement) -> str:
    return re.sub(r"[-_.]+", "-", req.name).lower()


@pytest.mark.parametrize("req", _requirements(), ids=str)
def test_every_range_is_pinned_inside_it(req: Requirement) -> None:
    pins = _lock_for_linux_py311()
    assert _name(req) in pins, f"{PROJECT_LOCK}: {req} is not pinned; {REFRESH}"
    assert req.specifier.contains(pins[_name(req)], prereleases=True), (
        f"{PROJECT_LOCK}: {req.name}=={pins[_name(req)]} is outside {req}; {REFRESH}"
    )


@pytest.mark.parametrize("req", _requirements(), ids=str)
def test_no_upper_bound_admits_an_untested_major(req: Requirement) -> None:
    """`<B` may reach at most one step past the locked version at B's own precision: `<4` with
    3.63 locked, `<0.22` with 0.21.2, `<2.14` with 2.13.0. A looser bound lets pip hand a user a
    release nothing here ran; widen it only with a refreshed lock or a passing drift run."""
    locked = Version(_lock_for_linux_py311()[_name(req)]).release
    for spec in req.specifier:
        if spec.operator != "<":
            continue
        bound = Version(spec.version).release
        step = (locked[0] + 1,) if len(bound) == 1 else (locked[0], locked[1] + 1)
        assert bound <= step, f"{req}: the lock tests {'.'.join(map(str, locked))}; {REFRESH}"


def test_the_lock_holds_the_torch_the_readme_installs() -> None:
    assert _lock_for_linux_py311()["torch"] == LOCAL_TORCH
    readme = (ROOT / "README.md").read_text()
    assert (
        f"torch=={LOCAL_TORCH}" in readme
        and f"torch=={LOCAL_TORCH}" in (ROOT / ".ci" / "run").read_text()
    )


def test_readme_and_ci_install_from_the_lock() -> None:
    """Every pip install line of the README's set-up block and of .ci/run that resolves
    dependencies names the lock (`--no-deps` installs resolve nothing)."""
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("```bash", 1)[1].split("```", 1)[0]
    ci = (ROOT / ".ci" / "run").read_text()
    lines = [seg for text in (setup, ci) for seg in re.split(r"&&|\n", text)]
    installs = [seg.strip() for seg in lines if re.search(r"pip install (?!-q -U pip)", seg)]
    assert len(installs) >= 4
    for seg in installs:
        if "--no-deps" in seg or re.search(r"pip install (-q )?-U pip$", seg):
            continue
        assert f"-c {PROJECT_LOCK}" in seg, f"installs without the lock: {seg}"


def test_image_locks_agree_with_the_project_lock() -> None:
    """The job and the app run the versions the tests ran (torch aside: the image's)."""
    pins = _lock_for_linux_py311()
    for image_lock in ("requirements-train.lock", "requirements-serve.lock"):
        text = (ROOT / image_lock).read_text()
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", text, re.M):
            key = re.sub(r"[-_.]+", "-", name).lower()
            if key in pins:
                ran = pins[key]
                assert ran == version, f"{image_lock}: {name}=={version}, tests ran {ran}"


def test_drift_names_what_moved_beyond_the_lock() -> None:
    locked = locked_versions("a==1.0\n    # via x\nb==2.0 ; sys_platform == 'linux'\nb==2.1 ; x\n")
    assert locked == {"a": {"1.0"}, "b": {"2.0", "2.1"}}
    changes = moved(locked, {"a": "1.1", "b": "2.1", "c": "0.1", "ftk": "0.1.0"})
    assert changes == ["a 1.0 -> 1.1", "c 0.1 (not in the lock)"]


def test_the_image_locks_hold_torch_at_the_default_images_own_version(monkeypatch):
    """`bootstrap.refresh` takes the image's torch from the `image` key's default in the table of
    stack keys (contract.stack_config), not from a regex over the stack's source."""
    from bootstrap import refresh
    from contract import stack_config

    assert refresh.image_torch() == "2.8.0"  # docker.io/pytorch/pytorch:2.8.0-cuda12.8-...
    image = "docker.io/pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime"
    monkeypatch.setattr(stack_config, "default", {"image": image}.get)
    assert refresh.image_torch() == "2.9.1"
    with pytest.raises(SystemExit, match="cannot read torch's version"):
        refresh.image_torch("docker.io/library/python:3.11")
