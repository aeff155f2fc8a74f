"""`ftk ui`: the chat page against a remote endpoint through the `openai` client, keyed."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner

from tests.inference.conftest import API_KEY


def _respond(engine):
    from inference.settings import ServerSettings
    from inference.ui import build_ui

    return build_ui(engine, ServerSettings(api_key_env="FTK_TEST_NO_KEY")).fn


def _last(gen) -> str:
    async def run():
        return [partial async for partial in gen][-1]

    return asyncio.run(run())


def test_remote_page_lists_the_adapter_first_and_answers_like_the_engine(server, engine):
    from inference.remote import RemoteEngine

    remote = RemoteEngine(server.url, API_KEY)
    assert remote.model_ids == engine.model_ids  # the run first, then the base
    here = _last(_respond(engine)("Hi", [], "run-1", 6, 0.0, 1.0, 0))
    there = _last(_respond(remote)("Hi", [], "run-1", 6, 0.0, 1.0, 0))
    assert there == here


def test_ftk_ui_serves_loopback_with_the_key_held_not_printed(server, monkeypatch):
    import gradio as gr

    from cli.main import cli
    from cli.targets.base import Endpoint

    launched = {}

    class Target:
        def endpoint(self) -> Endpoint:
            return Endpoint(url=server.url, api_key=API_KEY, ready=True, model="run-1")

    monkeypatch.setattr("cli.app.App.target", lambda self: Target())
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: launched.update(kw))
    result = CliRunner().invoke(cli, ["ui", "--no-browser", "--port", "7999"])
    assert result.exit_code == 0, result.output
    assert launched["server_name"] == "127.0.0.1" and launched["server_port"] == 7999
    assert launched["share"] is False
    assert API_KEY not in result.output
