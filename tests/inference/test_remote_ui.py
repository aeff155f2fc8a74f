"""`ftk ui`: the chat page against a remote endpoint through the `openai` client, keyed."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
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
    from inference.generation import Engine
    from inference.remote import RemoteEngine

    remote = RemoteEngine(server.url, API_KEY)
    # One protocol, two engines: the page takes either (inference.generation.Engine).
    assert isinstance(engine, Engine) and isinstance(remote, Engine)
    assert remote.state == engine.state == "ready"
    assert remote.model_ids == engine.model_ids  # the run first, then the base
    here = _last(_respond(engine)("Hi", [], "run-1", 6, 0.0, 1.0, 0))
    there = _last(_respond(remote)("Hi", [], "run-1", 6, 0.0, 1.0, 0))
    assert there == here


def _serve_in_thread(server, monkeypatch):
    """`ftk ui`'s page server against the test server; returns (said, opened, stop, thread)."""
    import threading
    import webbrowser

    from cli.ops.page import serve_page
    from cli.targets.base import Endpoint

    said: list[str] = []
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    endpoint = Endpoint(url=server.url, api_key=API_KEY, ready=True, model="run-1")
    stop = threading.Event()
    thread = threading.Thread(
        target=serve_page,
        args=(endpoint, 0),
        kwargs={"open_browser": True, "say": said.append, "until": stop},
    )
    thread.start()
    return said, opened, stop, thread


def test_ftk_ui_page_needs_the_session_key_it_printed_and_never_shows_the_endpoints(
    server, monkeypatch
):
    import re
    import time

    import httpx
    from gradio_client import Client

    said, opened, stop, thread = _serve_in_thread(server, monkeypatch)
    try:
        deadline = time.monotonic() + 60
        while len(said) < 2 and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)  # the page's server starting in the thread
        [where, key_line] = said
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", where).group(1)
        key = key_line.rsplit(" ", 1)[1]
        assert opened == [f"{url}/"]  # the browser gets no key in its URL (nor its argv)
        assert all(API_KEY not in line for line in said)

        html = {"Accept": "text/html"}
        refused = httpx.get(f"{url}/", headers=html)
        assert refused.status_code == 401 and "session key that `ftk ui` printed" in refused.text
        endpoint_key = {"Authorization": f"Bearer {API_KEY}"}
        assert httpx.get(f"{url}/", headers=endpoint_key).status_code == 401
        assert httpx.post(f"{url}/ui/login", data={"key": API_KEY}).status_code == 401

        signed_in = httpx.post(f"{url}/ui/login", data={"key": key})
        assert signed_in.status_code == 303
        page = httpx.get(f"{url}/", headers=html, cookies=signed_in.cookies)
        assert page.status_code == 200 and "gradio" in page.text.lower()
        no_api = httpx.get(f"{url}/v1/models", cookies=signed_in.cookies)
        assert no_api.status_code == 404  # only the page here: the endpoint's API is not proxied
        ui = Client(f"{url}/", verbose=False, headers={"Authorization": f"Bearer {key}"})
        assert isinstance(ui.predict("Hi", "run-1", 4, 0.0, 1.0, 0, api_name="/respond"), str)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_each_ftk_ui_run_has_its_own_session_key():
    from cli.ops.page import session_key

    keys = {session_key() for _ in range(3)}
    assert len(keys) == 3 and all(len(k) >= 32 for k in keys)


def test_ftk_ui_wires_port_and_browser_and_prints_no_endpoint_key(server, monkeypatch):
    from cli.main import cli
    from cli.targets.base import Endpoint

    served = {}

    class Target:
        def endpoint(self) -> Endpoint:
            return Endpoint(url=server.url, api_key=API_KEY, ready=True, model="run-1")

    def fake_serve(endpoint, port, *, open_browser, say):
        served.update(url=endpoint.url, port=port, open_browser=open_browser)

    monkeypatch.setattr("cli.app.App.target", lambda self: Target())
    monkeypatch.setattr("cli.ops.page.serve_page", fake_serve)
    result = CliRunner().invoke(cli, ["ui", "--no-browser", "--port", "7999", "--wait", "0"])
    assert result.exit_code == 0, result.output
    assert served == {"url": server.url, "port": 7999, "open_browser": False}
    assert API_KEY not in result.output


def _page(server):
    """`ftk ui`'s page server against the test server, started, and its session key."""
    from cli.ops.page import page_server, session_key
    from cli.targets.base import Endpoint

    key = session_key()
    endpoint = Endpoint(url=server.url, api_key=API_KEY, ready=True, model="run-1")
    return page_server(endpoint, 0, key).start(), key


def test_ftk_ui_page_refuses_a_large_body_before_reading_it_like_the_server(server, tmp_path):
    import httpx

    page, _ = _page(server)
    try:
        big = {"file": ("x.bin", b"0" * (2 << 20))}  # 2 MiB, over the default 1 MiB
        with_length = httpx.post(f"{page.url}/ui/login", files=big, timeout=30)
        assert with_length.status_code == 413, with_length.status_code

        def chunks():
            for _ in range(64):
                yield b"key=" + b"a" * 65536

        streamed = httpx.post(
            f"{page.url}/ui/login",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        assert streamed.status_code == 413, streamed.status_code  # no Content-Length: counted
        assert httpx.get(f"{page.url}/", headers={"Accept": "text/html"}).status_code == 401
    finally:
        page.stop()


_REPLAY = """
import sys, urllib.request, urllib.error
request = urllib.request.Request(sys.argv[1], headers={"Cookie": sys.argv[2]})
try:
    print(urllib.request.urlopen(request, timeout=30).status)
except urllib.error.HTTPError as e:
    print(e.code)
"""


@pytest.mark.skipif(
    not (hasattr(os, "getuid") and os.getuid() == 0 and Path("/proc/net/tcp").exists()),
    reason="needs Linux and root (to connect as another user)",
)
def test_ftk_ui_session_cookie_replayed_by_another_user_of_the_machine_is_refused(server):
    """Browsers send a host's cookies to every port of it: another user listening on some
    127.0.0.1 port receives `ftk ui`'s cookie. Replaying it gets them nothing."""
    import shutil
    import subprocess

    import httpx

    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")  # one others may run
    if python is None:
        pytest.skip("no system python3 that another user may run")
    page, key = _page(server)
    try:
        signed_in = httpx.post(f"{page.url}/ui/login", data={"key": key})
        assert signed_in.status_code == 303
        cookie = "; ".join(f"{k}={v}" for k, v in signed_in.cookies.items())
        assert httpx.get(f"{page.url}/config", headers={"Cookie": cookie}).status_code == 200

        def replay(user: int | None) -> str:
            args = [python, "-I", "-c", _REPLAY, f"{page.url}/config", cookie]
            done = subprocess.run(args, user=user, cwd="/", capture_output=True, timeout=60)
            return done.stdout.decode().strip() or done.stderr.decode()

        assert replay(None) == "200"  # the user who ran `ftk ui` (root here)
        assert replay(65534) == "403"  # `nobody`: another user of the machine
    finally:
        page.stop()
