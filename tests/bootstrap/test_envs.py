"""The bootstrap builds one dependency set per lock, publishes it whole, and reuses it: with a
tiny wheel written in the test, installed by the real pip with --no-index."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from bootstrap import envs
from cli.ops import cache
from cli.targets.local.share import LocalShare
from contract.commands import TRAIN_LOCK
from contract.layout import ENVS_DIR
from tests.bootstrap.wheels import build_wheel, write_lock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    return write_lock(tmp_path / TRAIN_LOCK, build_wheel(tmp_path / "wheels"))


def offline(wheels: Path):
    return functools.partial(envs.pip_install, extra=["--no-index", "--find-links", str(wheels)])


def imports(site: Path, module: str = "tinydep") -> str:
    """What `module.VERSION` reads when `site` is on PYTHONPATH, as the job's command sets it."""
    out = subprocess.run(
        [sys.executable, "-c", f"import {module}; print({module}.VERSION)"],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_first_start_builds_and_second_reuses(tmp_path: Path, lock: Path) -> None:
    root = tmp_path / "share" / ".ftk" / "envs"
    calls: list[Path] = []

    def counting(lock_: Path, target: Path) -> None:
        calls.append(target)
        offline(tmp_path / "wheels")(lock_, target)

    first = envs.ensure(lock, root, installer=counting, log=lambda _: None)
    second = envs.ensure(lock, root, installer=counting, log=lambda _: None)
    assert first == second
    assert len(calls) == 1, "the second start installed again"
    assert imports(first) == "1.0"
    assert [p.name for p in root.iterdir()] == [envs.env_name(lock)], "a build folder was left"


def test_two_concurrent_first_starts_leave_one_usable_set(tmp_path: Path, lock: Path) -> None:
    """Both build (each privately); both reach the publishing rename; one wins, the other uses the
    winner's set and deletes its own build."""
    root = tmp_path / ENVS_DIR
    both_built = threading.Barrier(2, timeout=60)

    def build_then_wait(lock_: Path, target: Path) -> None:
        offline(tmp_path / "wheels")(lock_, target)
        both_built.wait()

    results: list[Path] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            results.append(envs.ensure(lock, root, installer=build_then_wait, log=lambda _: None))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results[0] == results[1]
    assert [p.name for p in root.iterdir()] == [envs.env_name(lock)]
    assert imports(results[0]) == "1.0"


def test_a_killed_build_is_never_used(tmp_path: Path, lock: Path) -> None:
    """A start killed (SIGKILL) halfway through its install leaves only a `.build-` folder; the
    next start does not take it for a set, builds its own, and prune can remove the leftover."""
    root = tmp_path / ENVS_DIR
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from bootstrap import envs

        def half(lock, target):
            (target / "tinydep").mkdir(parents=True)
            (target / "tinydep" / "__init__.py").write_text("VERSION = 'half'")
            print("installing", flush=True)
            sys.stdin.read()  # killed here

        envs.ensure(Path({str(lock)!r}), Path({str(root)!r}), installer=half)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout.readline().strip() == "installing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    leftovers = [p.name for p in root.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(envs.BUILD_PREFIX)

    site = envs.ensure(lock, root, installer=offline(tmp_path / "wheels"), log=lambda _: None)
    assert imports(site) == "1.0"
    share = LocalShare(tmp_path)
    listed = {e.name: e for e in cache.list_envs(share)}
    assert listed[envs.env_name(lock)].complete
    assert listed[leftovers[0]].building and not listed[leftovers[0]].complete
    assert [e.name for e in cache.stale(share, lock.parent, include_builds=True)] == leftovers


def test_a_changed_lock_builds_a_new_set_and_the_old_one_can_be_pruned(
    tmp_path: Path, lock: Path
) -> None:
    root = tmp_path / ENVS_DIR
    old = envs.ensure(lock, root, installer=offline(tmp_path / "wheels"), log=lambda _: None)
    write_lock(lock, build_wheel(tmp_path / "wheels", version="2.0"))
    new = envs.ensure(lock, root, installer=offline(tmp_path / "wheels"), log=lambda _: None)
    assert new != old
    assert (imports(old), imports(new)) == ("1.0", "2.0")

    share = LocalShare(tmp_path)
    listed = cache.list_envs(share)
    assert {e.name for e in listed} == {old.parent.name, new.parent.name}
    assert all(e.size > 0 for e in listed), "sizes are listed before pruning"
    stale = cache.stale(share, project_dir=lock.parent)
    assert [e.name for e in stale] == [old.parent.name], "only the set of the old lock goes"
    cache.remove(share, stale[0])
    assert [e.name for e in cache.list_envs(share)] == [new.parent.name]
    calls: list[Path] = []
    again = envs.ensure(lock, root, installer=lambda *a: calls.append(a), log=lambda _: None)
    assert (again, calls) == (new, []), "the current set survived the prune"


def test_the_set_is_a_folder_named_site_packages(tmp_path: Path, lock: Path) -> None:
    """datasets fingerprints with dill, which pickles a module by reference only when its path
    contains "site-packages" (or lies under sys.prefix); otherwise pickling pyarrow fails."""
    site = envs.ensure(lock, tmp_path, installer=offline(tmp_path / "wheels"), log=lambda _: None)
    assert site.name == "site-packages"


def test_the_prebuilt_image_set_is_used_only_for_its_own_lock(tmp_path: Path, lock: Path) -> None:
    """The image's baked set (prebuiltImage) wins when it was built from this lock; after a lock
    change the share's set is built instead, so a stale image is slow, never wrong."""
    image = tmp_path / "image-envs"
    baked = envs.ensure(lock, image, installer=offline(tmp_path / "wheels"), log=lambda _: None)
    share = tmp_path / ENVS_DIR
    calls: list[Path] = []

    def counting(lock_: Path, target: Path) -> None:
        calls.append(target)
        offline(tmp_path / "wheels")(lock_, target)

    assert envs.ensure(lock, share, installer=counting, prebuilt=image, log=lambda _: None) == baked
    assert calls == [] and not share.exists()

    write_lock(lock, build_wheel(tmp_path / "wheels", version="2.0"))
    site = envs.ensure(lock, share, installer=counting, prebuilt=image, log=lambda _: None)
    assert site.is_relative_to(share) and len(calls) == 1
    assert imports(site) == "2.0"


def test_with_local_the_set_is_unpacked_from_one_archive_to_local_disk(
    tmp_path: Path, lock: Path
) -> None:
    """On Azure (FTK_LOCAL_ENVS) Python imports the set from local disk: the first start builds
    it on the share and archives it; a later replica (fresh local disk) only unpacks the one
    archive, without installing and without importing from the share."""
    root = tmp_path / "share" / ".ftk" / "envs"
    calls: list[Path] = []

    def counting(lock_: Path, target: Path) -> None:
        calls.append(target)
        offline(tmp_path / "wheels")(lock_, target)

    name = envs.env_name(lock)
    first = envs.ensure(lock, root, installer=counting, log=print, local=tmp_path / "replica-1")
    assert first == tmp_path / "replica-1" / name / envs.SITE
    assert (root / name / envs.ARCHIVE).is_file()
    later = envs.ensure(lock, root, installer=counting, log=print, local=tmp_path / "replica-2")
    assert later == tmp_path / "replica-2" / name / envs.SITE
    assert len(calls) == 1 and imports(later) == "1.0"
    leftovers = [p.name for p in (tmp_path / "replica-2").iterdir()]
    assert leftovers == [name], "an unpack folder was left"
    assert sorted(p.name for p in (root / name).iterdir()) == sorted(
        [envs.SITE, envs.COMPLETE, envs.LOCK_COPY, envs.ARCHIVE]
    ), "a partial archive was left"


def test_a_set_that_cannot_be_unpacked_locally_is_used_from_the_share(
    tmp_path: Path, lock: Path
) -> None:
    root = tmp_path / "share" / ".ftk" / "envs"
    not_a_folder = tmp_path / "full-disk"
    not_a_folder.write_text("")  # mkdir under a file fails, as a full or read-only disk would
    said: list[str] = []
    site = envs.ensure(
        lock, root, installer=offline(tmp_path / "wheels"), log=said.append, local=not_a_folder
    )
    assert site == root / envs.env_name(lock) / envs.SITE and imports(site) == "1.0"
    assert any("unpacking it locally failed" in line for line in said)


def test_a_lock_whose_hash_does_not_match_fails_with_pips_error_and_one_line(
    tmp_path: Path, lock: Path
) -> None:
    """`python -m bootstrap env` as the job runs it: pip's own hash error, then one line of
    ours, exit 1, no traceback; nothing is published."""
    good = lock.read_text()
    digest = good.split("sha256:")[1].split()[0]
    lock.write_text(good.replace(digest, "0" * 64))
    root = tmp_path / ENVS_DIR
    pip_offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path / "wheels")}
    done = subprocess.run(
        [sys.executable, "-m", "bootstrap", "env", str(lock), "--root", str(root)],
        cwd=ROOT,
        env={**os.environ, **pip_offline, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "DO NOT MATCH THE HASHES" in done.stderr  # pip's clear error stays
    assert "Traceback" not in done.stderr, done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"bootstrap: cannot prepare the environment of {lock.name}: pip exited")
    )
    assert done.stdout == "" and not any(envs.is_complete(p) for p in root.iterdir())


def test_a_missing_lock_is_one_line_too(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bootstrap", "env", str(tmp_path / "none.lock")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "cannot prepare the environment of none.lock" in done.stderr
