"""Continuous batching: concurrent requests share forward passes, yet each gets its own answer.

Through the official `openai` client, 16 concurrent greedy requests (adapter and base mixed, with
sampled requests alongside) must each equal the answer the same request gets alone.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

TOPICS = ["rivers", "stars", "bread", "trains", "owls", "glass", "snow", "maps"]


def _ask(client, model: str, topic: str, **sampling) -> str:
    answer = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": f"Say something about {topic}."}],
        max_tokens=12,
        **sampling,
    )
    return answer.choices[0].message.content


def test_sixteen_concurrent_greedy_requests_equal_their_solo_answers(client, tiny_llama):
    base = tiny_llama.name
    greedy = [(model, topic) for model in ("run-1", base) for topic in TOPICS]
    solo = [_ask(client, model, topic, temperature=0) for model, topic in greedy]

    def together(i: int) -> str:
        if i >= len(greedy):  # sampled requests in the same batch, their own settings
            return _ask(client, "run-1", "noise", temperature=1.5, top_p=0.9)
        model, topic = greedy[i]
        return _ask(client, model, topic, temperature=0)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(together, range(len(greedy) + 4)))
    for (model, topic), alone, batched in zip(greedy, solo, answers, strict=False):
        assert batched == alone, f"{model}/{topic}: batched answer differs from the solo one"
    assert len({a for a in solo[:8]} | {a for a in solo[8:]}) > 1  # not one canned answer


def test_stop_sequences_and_limits_stay_per_request_in_a_batch(client, tiny_llama):
    full = _ask(client, "run-1", "rivers", temperature=0)
    stop = full.split()[1] if len(full.split()) > 1 else full[:1]

    def one(i: int) -> str:
        if i % 2:
            return _ask(client, "run-1", "rivers", temperature=0, stop=[stop])
        return _ask(client, "run-1", "rivers", temperature=0)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(8)))
    assert all(a == full for a in answers[0::2])
    assert all(stop not in a and full.startswith(a) for a in answers[1::2])


def _closing_at_the_last_event(monkeypatch) -> None:
    """Every generation is closed the moment its last event (or failure) is handed over, before
    the engine's next line runs: a client that leaves as soon as it has read it, at its fastest."""
    from inference.generation import Event, Generation

    emit = Generation.emit

    def emit_then_leave(self, item):
        emit(self, item)
        if isinstance(item, BaseException) or (isinstance(item, Event) and item.finish_reason):
            self.close()

    monkeypatch.setattr(Generation, "emit", emit_then_leave)


def _run_one(engine) -> None:
    import asyncio

    from inference.generation import GenerationRequest

    async def consume() -> None:
        request = GenerationRequest("run-1", [{"role": "user", "content": "Hi"}], max_tokens=3)
        generation = engine.submit(request)
        try:
            async for _ in generation:
                pass
        except Exception:
            pass

    asyncio.run(consume())


def test_a_client_leaving_at_the_last_event_leaves_the_request_counted_completed(
    engine, monkeypatch
):
    _closing_at_the_last_event(monkeypatch)
    before = engine.stats()
    _run_one(engine)
    after = engine.stats()
    assert (after.completed - before.completed, after.cancelled - before.cancelled) == (1, 0)


def test_a_client_leaving_at_a_failure_leaves_the_request_counted_failed(engine, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr("inference.batching.Batcher._deliver", boom)
    _closing_at_the_last_event(monkeypatch)
    before = engine.stats()
    _run_one(engine)
    after = engine.stats()
    assert (after.failed - before.failed, after.cancelled - before.cancelled) == (1, 0)


def _serving(tiny_llama):
    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings
    from tests.inference.conftest import make_engine

    engine = make_engine(tiny_llama, max_batch=2)
    settings = ServerSettings(api_key_env="FTK_TEST_NO_KEY", ui=False)
    return engine, ServerThread(create_app(settings, engine))


def _chat(server, tiny_llama):
    import httpx

    body = {"model": tiny_llama.name, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)


def _probes(server) -> tuple[int, int]:
    import httpx

    return httpx.get(f"{server.url}/ready").status_code, httpx.get(
        f"{server.url}/health"
    ).status_code


def test_a_request_the_generation_loop_drops_is_a_500_and_the_probes_fail(tiny_llama):
    """transformers' `add_request` returns None (and drops the request) once its loop cannot
    take work: the client gets a clean 500 at once instead of waiting forever, and /ready and
    /health fail so the platform restarts the replica."""
    engine, server = _serving(tiny_llama)
    with server:
        assert _probes(server) == (200, 200)
        engine._batcher._manager.add_request = lambda *args, **kwargs: None
        reply = _chat(server, tiny_llama)
        assert reply.status_code == 500, reply.text
        assert reply.json()["error"]["type"] == "server_error"
        assert _probes(server) == (503, 503)
        assert "refused" in httpx_json(server, "/health")["error"]
    assert engine.stats().failed == 1


def test_a_generation_loop_that_dies_turns_the_probes_failed_without_a_request(tiny_llama):
    import time

    engine, server = _serving(tiny_llama)
    with server:
        engine._batcher._manager.stop(block=True, hard_stop=True)  # the loop is gone
        deadline = time.monotonic() + 20
        while _probes(server) != (503, 503) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _probes(server) == (503, 503)
        reply = _chat(server, tiny_llama)
        assert reply.status_code == 503 and "generation loop" in reply.json()["error"]["message"]


def httpx_json(server, path: str) -> dict:
    import httpx

    return httpx.get(f"{server.url}{path}").json()


def test_eight_concurrent_requests_over_two_adapters_each_get_their_adapters_answer(
    tiny_llama, adapter_dir, tmp_path
):
    """Two runs served on one endpoint (`ftk deploy RUN RUN`): requests for either arriving
    together are all answered, each by its own adapter (one adapter per batch, the other waits)."""
    import torch
    from openai import OpenAI
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from inference.app import create_app
    from inference.engine import TransformersEngine
    from inference.models import AdapterSpec
    from inference.serve import ServerThread
    from inference.settings import ServerSettings
    from tests.inference.conftest import API_KEY

    second = tmp_path / "runs" / "run-2" / "adapter"
    torch.manual_seed(2)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    config = LoraConfig(
        r=4, lora_alpha=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    get_peft_model(model, config).save_pretrained(second)
    adapters = [AdapterSpec.parse(str(adapter_dir)), AdapterSpec.parse(str(second))]
    engine = TransformersEngine(str(tiny_llama), adapters)
    engine.load()
    try:
        settings = ServerSettings(api_key=API_KEY, max_body_bytes=4096)
        with ServerThread(create_app(settings, engine)) as running:
            client = OpenAI(base_url=f"{running.url}/v1", api_key=API_KEY, max_retries=0)
            assert {m.id for m in client.models.list().data} >= {"run-1", "run-2"}
            asks = [(run, topic) for topic in TOPICS[:4] for run in ("run-1", "run-2")]
            solo = [_ask(client, run, topic, temperature=0) for run, topic in asks]
            with ThreadPoolExecutor(max_workers=8) as pool:
                together = list(pool.map(lambda a: _ask(client, a[0], a[1], temperature=0), asks))
    finally:
        engine.shutdown()
    assert together == solo
    by_run = {
        run: [s for (r, _), s in zip(asks, solo, strict=True) if r == run]
        for run in ("run-1", "run-2")
    }
    assert by_run["run-1"] != by_run["run-2"]  # the two adapters do answer differently
