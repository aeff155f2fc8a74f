"""The OpenAI-compatible API as real clients see it: the official `openai` package over loopback."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.inference.conftest import API_KEY

CONVERSATION = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Sweden?"},
]


def _greedy(client, model="run-1", messages=CONVERSATION, max_tokens=12, **kwargs):
    return client.chat.completions.create(
        model=model, messages=messages, temperature=0, max_tokens=max_tokens, **kwargs
    )


def test_models_lists_the_adapter_first_then_the_base(client, tiny_llama):
    ids = [m.id for m in client.models.list()]
    assert ids == ["run-1", tiny_llama.name]
    assert client.models.retrieve("run-1").id == "run-1"


def test_base_answers_to_its_name_and_to_the_base_argument_as_given(client, tiny_llama):
    by_name = _greedy(client, model=tiny_llama.name).choices[0].message.content
    assert _greedy(client, model=str(tiny_llama)).choices[0].message.content == by_name


def test_non_streamed_completion_uses_the_whole_conversation(client, engine):
    reply = _greedy(client)
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens == len(engine.encode(CONVERSATION))
    assert 0 < reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_stream_yields_the_same_text_as_non_stream_and_ends_properly(client):
    expected = _greedy(client).choices[0].message.content
    chunks = list(_greedy(client, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected
    finals = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finals in (["stop"], ["length"])
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_raw_sse_wire_format(server):
    body = {"model": "run-1", "messages": CONVERSATION, "stream": True, "max_tokens": 4}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.stream(
        "POST", f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=60
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events[:-1])


def test_max_tokens_ends_with_length(client):
    reply = _greedy(client, max_tokens=3)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 3


def test_stop_sequence_cuts_the_answer_before_it(client, tiny_llama):
    def ask(**kwargs):
        return client.chat.completions.create(
            model=tiny_llama.name, messages=CONVERSATION, temperature=0, max_tokens=40, **kwargs
        )

    full = ask().choices[0].message.content
    stop = full[6:9]
    assert len(stop) == 3, full
    reply = ask(stop=[stop])
    assert reply.choices[0].message.content == full[: full.index(stop)]
    assert reply.choices[0].finish_reason == "stop"


def test_seed_makes_sampling_reproducible_and_adapters_differ(client, tiny_llama):
    def sample(model, seed):
        return (
            client.chat.completions.create(
                model=model,
                messages=CONVERSATION,
                temperature=1.0,
                top_p=0.9,
                seed=seed,
                max_tokens=16,
            )
            .choices[0]
            .message.content
        )

    assert sample("run-1", 7) == sample("run-1", 7)
    assert (
        _greedy(client, model="run-1").choices[0].message.content
        != _greedy(client, model=tiny_llama.name).choices[0].message.content
    )


def test_errors_come_in_openai_shape(client):
    with pytest.raises(openai.NotFoundError) as missing:
        _greedy(client, model="no-such-model")
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as too_hot:
        client.chat.completions.create(model="run-1", messages=CONVERSATION, temperature=5)
    assert too_hot.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as too_long:
        _greedy(client, max_tokens=4000)
    assert too_long.value.code == "context_length_exceeded"
    assert "context length is 512" in too_long.value.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("functions", [{"name": "f", "parameters": {"type": "object"}}]),
        ("function_call", {"name": "f"}),
        ("logprobs", True),
        ("top_logprobs", 2),
        ("response_format", {"type": "json_object"}),
        ("logit_bias", {"15": 100}),
        ("tool_choice", "required"),
        ("presence_penalty", 1.5),
        ("frequency_penalty", 0.5),
    ],
)
def test_openai_fields_the_server_cannot_honour_are_refused_not_ignored(client, field, value):
    with pytest.raises(openai.BadRequestError) as refused:
        _greedy(client, max_tokens=2, extra_body={field: value})
    assert refused.value.param == field and "not supported" in refused.value.message


def test_those_fields_pass_when_they_ask_for_nothing(client):
    no_ops = {
        "functions": [],
        "function_call": "none",
        "logprobs": False,
        "top_logprobs": 0,
        "response_format": {"type": "text"},
        "logit_bias": {},
        "tool_choice": "auto",
        "presence_penalty": 0,
        "frequency_penalty": 0.0,
    }
    answer = _greedy(client, max_tokens=2, extra_body=no_ops)
    assert answer.choices[0].message.content is not None


def test_unknown_v1_path_and_oversized_body_are_openai_errors(server):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    missing = httpx.get(f"{server.url}/v1/embeddings", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    huge = {"model": "run-1", "messages": [{"role": "user", "content": "x" * 10_000}]}
    too_big = httpx.post(f"{server.url}/v1/chat/completions", json=huge, headers=headers)
    assert too_big.status_code == 413
    assert set(too_big.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_v1_needs_the_key(server, key):
    from openai import OpenAI

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{server.url}/v1/models", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    bad = OpenAI(base_url=f"{server.url}/v1", api_key=key or "x", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="run-1", messages=CONVERSATION)


def test_probes_answer_without_a_key(server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_chat_ui_is_served_at_the_root_with_the_key(server):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    page = httpx.get(f"{server.url}/", headers=headers, follow_redirects=True)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "gradio" in page.text.lower()


def test_chat_ui_answers_through_gradio_with_the_key(server):
    from gradio_client import Client

    ui = Client(f"{server.url}/", verbose=False, headers={"Authorization": f"Bearer {API_KEY}"})
    assert isinstance(ui.predict("Hello", "run-1", 4, 0.0, 1.0, 0, api_name="/respond"), str)


def test_while_loading_ready_and_v1_say_503_but_health_is_ok(tiny_llama):
    from fastapi.testclient import TestClient

    from inference.app import create_app
    from inference.engine import TransformersEngine
    from inference.settings import ServerSettings

    loading = TransformersEngine(str(tiny_llama))  # not loaded; no lifespan runs in this client
    app = create_app(ServerSettings(api_key_env="FTK_TEST_NO_KEY", ui=False), loading)
    client = TestClient(app)
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 503
    body = {"model": tiny_llama.name, "messages": [{"role": "user", "content": "hi"}]}
    busy = client.post("/v1/chat/completions", json=body)
    assert busy.status_code == 503 and "Retry-After" in busy.headers
    assert busy.json()["error"]["code"] == "model_not_ready"
