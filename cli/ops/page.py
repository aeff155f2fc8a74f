"""`ftk ui`'s work: the chat page on 127.0.0.1 against an endpoint, behind a session key.

The page (`inference.ui.page_app`) talks to the endpoint through `inference.remote.RemoteEngine`,
which holds the endpoint's key. The page itself is gated like the server's own page: a random
session key for this process only, entered once in the sign-in form (an HMAC-signed cookie
afterwards). The key is printed on stderr for the person at the terminal and never put in a URL,
a process argument or a log line; the browser is opened at the bare page.
"""

from __future__ import annotations

import secrets
import threading
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING

from cli.targets.base import Endpoint

if TYPE_CHECKING:  # the server (fastapi, uvicorn) loads only when the page starts
    from inference.serve import ServerThread

SIGN_IN_NOTE = "Enter the session key that `ftk ui` printed in your terminal."


def session_key() -> str:
    """A fresh key for one `ftk ui` run (192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def page_server(endpoint: Endpoint, port: int, key: str) -> ServerThread:
    """The page's server, not started yet (`inference.serve.ServerThread` on 127.0.0.1)."""
    from pydantic import SecretStr

    from inference.remote import RemoteEngine
    from inference.serve import ServerThread
    from inference.settings import ServerSettings
    from inference.ui import page_app

    settings = ServerSettings(api_key=SecretStr(key), sign_in_note=SIGN_IN_NOTE)
    engine = RemoteEngine(endpoint.url, endpoint.api_key)
    return ServerThread(page_app(engine, settings), host="127.0.0.1", port=port)


def serve_page(
    endpoint: Endpoint,
    port: int,
    *,
    open_browser: bool,
    say: Callable[[str], None],
    until: threading.Event | None = None,
) -> None:
    """Serve until Ctrl-C (or `until` is set): print where and the session key, open a tab."""
    key = session_key()
    server = page_server(endpoint, port, key).start()
    try:
        say(f"chat page for {endpoint.url} at {server.url}/ (Ctrl-C to stop)")
        say(f"session key (sign in with it; it ends when this stops): {key}")
        if open_browser:
            webbrowser.open(f"{server.url}/")
        stop = until or threading.Event()
        while not stop.wait(0.5) and server.alive:
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
