"""The chat page against a remote OpenAI-compatible endpoint (vLLM's or ours): `ftk ui`.

`RemoteEngine` implements `inference.generation.Engine` (`state`, `model_ids`, `submit(request)
-> Stream`), the protocol `inference.ui.build_ui` uses, through the official `openai` client, so
the same Gradio page chats with an endpoint that has no page of its own. The key stays inside the
client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from inference.generation import Event, GenerationRequest


class RemoteGeneration:
    """Streams one chat completion's text deltas as `Event`s; `close()` drops the stream."""

    def __init__(self, client: Any, request: GenerationRequest) -> None:
        self._client, self._request = client, request
        self._closed = False

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        r = self._request
        extra = {"top_k": r.top_k} if r.top_k else None
        stream = await self._client.chat.completions.create(
            model=r.model,
            messages=list(r.messages),
            max_tokens=r.max_tokens,
            temperature=r.temperature,
            top_p=r.top_p,
            stop=list(r.stop) or None,
            seed=r.seed,
            stream=True,
            extra_body=extra,
        )
        async with stream:  # leaving it (done, closed or cancelled) closes the connection
            async for chunk in stream:
                if self._closed:
                    return
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield Event(text=choice.delta.content)

    def close(self) -> None:
        self._closed = True


def _parent(model: Any) -> str | None:
    return (model.model_extra or {}).get("parent") or getattr(model, "parent", None)


class RemoteEngine:
    state = "ready"  # the endpoint answered its model list: nothing loads here

    def __init__(self, base_url: str, api_key: str | None) -> None:
        from openai import AsyncOpenAI, OpenAI

        url = f"{base_url.rstrip('/')}/v1"
        key = api_key or "none"
        self._client = AsyncOpenAI(base_url=url, api_key=key, max_retries=1)
        # Adapters (models with a `parent`, in both servers' lists) first: the page picks the run.
        with OpenAI(base_url=url, api_key=key, max_retries=1) as sync:
            models = sync.models.list().data
        self.model_ids = [m.id for m in sorted(models, key=lambda m: not _parent(m))]

    def submit(self, request: GenerationRequest) -> RemoteGeneration:
        return RemoteGeneration(self._client, request)
