"""The chat UI behind the API key: every Gradio route refuses a request without it, nothing is
written to disk by such a request, and a person signs in once with a session cookie."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.inference.conftest import API_KEY

BEARER = {"Authorization": f"Bearer {API_KEY}"}
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def ui_server(engine, tmp_path_factory) -> Iterator:
    """The app with a key and the UI, its Gradio uploads in a folder of its own."""
    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings

    uploads = tmp_path_factory.mktemp("gradio-uploads")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRADIO_TEMP_DIR", str(uploads))  # read when the page is built, at start-up
        app = create_app(ServerSettings(api_key=API_KEY, ui=True), engine)
        with ServerThread(app) as server:
            yield server, app, uploads


def _gradio_mount(app):
    from starlette.routing import Mount

    return next(r for r in app.routes if isinstance(r, Mount))


def _walk(routes, prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, through included routers and mounts."""
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            yield from _walk(included.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "methods") and route.methods:
            yield prefix + route.path, set(route.methods)
        elif hasattr(route, "routes") and getattr(route, "path", None) is not None:
            yield prefix + route.path + "/anything", {"GET"}
        elif hasattr(route, "path"):  # websocket routes
            yield prefix + route.path, {"WEBSOCKET"}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_every_gradio_route_refuses_a_request_without_the_key(ui_server):
    server, app, uploads = ui_server
    # The API's own routes (its /openapi.json) answer first; Gradio's of that path is unreachable.
    api_paths = {path for path, _ in _walk(r for r in app.routes if r is not _gradio_mount(app))}
    gradio = {(p, frozenset(m)) for p, m in _walk(_gradio_mount(app).routes)}
    routes = sorted((p, m) for p, m in gradio if p not in api_paths)
    paths = {p for p, _ in routes}
    for needed in ("/", "/config", "/gradio_api/upload", "/gradio_api/queue/join"):
        assert needed in paths, sorted(paths)
    assert any(p.startswith("/gradio_api/file=") for p in paths)
    assert len(routes) > 30, routes

    refused: list[str] = []
    served: list[str] = []
    for path, methods in routes:
        url = server.url + re.sub(r"\{[^}]+\}", "x", path)
        for method in sorted(methods - {"WEBSOCKET"}):
            for headers in ({}, HTML, {"Authorization": "Bearer wrong"}):
                response = httpx.request(method, url, headers=headers, timeout=30)
                text = response.text.lower()
                where = f"{method} {path} {headers}: {response.status_code}"
                if response.status_code == 401 and "gradio" not in text:
                    refused.append(where)
                else:
                    served.append(where)
        assert "WEBSOCKET" not in methods, f"add a websocket check for {path}"
    assert not served, served
    assert len(refused) >= 3 * len(routes)
    assert _files(uploads) == []


def test_unauthenticated_upload_writes_nothing_and_files_need_the_key(ui_server):
    server, _, uploads = ui_server
    upload = f"{server.url}/gradio_api/upload"
    files = {"files": ("note.txt", b"secret words", "text/plain")}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "ftk_ui_session=1.x"}):
        refused = httpx.post(upload, files=files, headers=headers)
        assert refused.status_code == 401, refused.text
    assert _files(uploads) == []

    stored = httpx.post(upload, files=files, headers=BEARER)
    assert stored.status_code == 200, stored.text
    [path] = stored.json()
    file_url = f"{server.url}/gradio_api/file={path}"
    assert httpx.get(file_url).status_code == 401
    assert httpx.get(file_url, headers=BEARER).content == b"secret words"


def _sign_in(server, key: str, headers: dict | None = None) -> httpx.Response:
    return httpx.post(
        f"{server.url}/ui/login", data={"key": key}, headers=headers or {}, timeout=30
    )


def test_sign_in_with_the_key_sets_a_strict_session_cookie_that_opens_the_page(ui_server):
    server, _, _ = ui_server
    form = httpx.get(f"{server.url}/", headers=HTML)
    assert form.status_code == 401
    assert 'type="password"' in form.text and "gradio" not in form.text.lower()

    wrong = _sign_in(server, "not-the-key")
    assert wrong.status_code == 401 and "Wrong key" in wrong.text
    assert "set-cookie" not in wrong.headers

    signed = _sign_in(server, API_KEY)
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"ftk_ui_session_{_port(server)}=")  # one name per port
    for attribute in ("HttpOnly", "SameSite=strict", "Max-Age=28800", "Path=/"):
        assert attribute.lower() in cookie.lower(), cookie
    assert "secure" not in cookie.lower()  # plain http on loopback
    assert API_KEY not in cookie

    with httpx.Client(base_url=server.url, cookies=signed.cookies) as browser:
        page = browser.get("/", headers=HTML)
        assert page.status_code == 200 and "gradio" in page.text.lower()
        assert browser.get("/config").status_code == 200
        out = browser.post("/ui/logout")
        assert out.status_code == 303
        assert f'ftk_ui_session_{_port(server)}=""' in out.headers["set-cookie"]


def test_behind_https_the_session_cookie_is_secure(ui_server):
    server, _, _ = ui_server
    signed = _sign_in(server, API_KEY, {"X-Forwarded-Proto": "https"})
    assert "secure" in signed.headers["set-cookie"].lower()


def _port(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_forged_expired_or_foreign_sessions_are_refused(ui_server):
    from inference.guards import SESSION_SECONDS, session_token
    from inference.settings import ServerSettings

    server, _, _ = ui_server
    port = _port(server)
    name = f"ftk_ui_session_{port}"
    ours = ServerSettings(api_key=API_KEY)
    expired = session_token(ours, now=time.time() - SESSION_SECONDS - 1, port=port)
    foreign = session_token(ServerSettings(api_key="another-key"), port=port)
    other_port = session_token(ours, port=port + 1)  # same key, minted for another port
    good = session_token(ours, port=port)
    far_future = f"9999999999.{good.partition('.')[2]}"  # a valid MAC under another expiry
    for token in (expired, foreign, other_port, far_future, "", "garbage", good + "0"):
        refused = httpx.get(f"{server.url}/config", cookies={name: token})
        assert refused.status_code == 401, token
    assert httpx.get(f"{server.url}/config", cookies={"ftk_ui_session": good}).status_code == 401
    assert httpx.get(f"{server.url}/config", cookies={name: good}).status_code == 200


@pytest.mark.parametrize(
    "token",
    ["\xb2.x", "\u0663\u0663.x", "9" * 5000 + ".x", "1" * 13 + ".x", "9999999999.\xe9"],
    ids=["superscript-two", "arabic-indic-digits", "5000-digits", "13-digits", "latin1-mac"],
)
def test_a_malformed_session_cookie_is_refused_not_an_error(token):
    from inference.guards import session_valid
    from inference.settings import ServerSettings

    assert session_valid(token, ServerSettings(api_key=API_KEY), 8000) is False


def test_a_non_ascii_or_huge_cookie_gets_401_and_no_traceback(ui_server, caplog):
    server, _, _ = ui_server
    names = (f"ftk_ui_session_{_port(server)}".encode(), b"ftk_ui_session")  # this and 0.x's
    for value in (b"\xb2.x", b"9" * 5000 + b".x"):
        headers = [(b"cookie", b"; ".join(name + b"=" + value for name in names))]
        with caplog.at_level("ERROR"):
            refused = httpx.get(f"{server.url}/config", headers=headers)
        assert refused.status_code == 401, refused.text
    assert "Traceback" not in caplog.text and "ValueError" not in caplog.text


def test_without_a_configured_key_the_ui_is_open_as_the_api_is(engine):
    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings

    assert "FTK_TEST_NO_KEY" not in os.environ
    settings = ServerSettings(api_key_env="FTK_TEST_NO_KEY", ui=True)
    with ServerThread(create_app(settings, engine)) as server:
        assert httpx.get(f"{server.url}/", headers=HTML).status_code == 200
        assert httpx.post(f"{server.url}/ui/login", data={"key": "x"}).status_code == 404
