"""Fixtures for the inference tests: a LoRA adapter on the tiny model, engines, loopback servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

API_KEY = "test-key-0123456789"


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """This machine's cores are shared; one intra-op thread keeps tiny-model timings sane."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def adapter_dir(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random (non-zero) LoRA adapter saved where a run keeps it: runs/run-1/adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("share") / "runs" / "run-1" / "adapter"
    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    config = LoraConfig(
        r=4,
        lora_alpha=4,  # strong enough to change answers, weak enough to keep them text
        target_modules=["q_proj", "v_proj", "down_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    get_peft_model(model, config).save_pretrained(out)
    return out


def make_engine(tiny_llama: Path, adapter_dir: Path | None = None, **kwargs):
    from inference.engine import TransformersEngine
    from inference.models import AdapterSpec

    adapters = [AdapterSpec.parse(str(adapter_dir))] if adapter_dir else []
    engine = TransformersEngine(str(tiny_llama), adapters, **kwargs)
    engine.load()
    return engine


@pytest.fixture(scope="module")
def engine(tiny_llama: Path, adapter_dir: Path):
    engine = make_engine(tiny_llama, adapter_dir)
    yield engine
    engine.shutdown()


@pytest.fixture(scope="module")
def server(engine):
    """The full app (UI included) with an API key, on a real 127.0.0.1 socket."""
    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings

    settings = ServerSettings(api_key=API_KEY, max_body_bytes=4096, ui=True)
    with ServerThread(create_app(settings, engine)) as running:
        yield running


@pytest.fixture()
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
