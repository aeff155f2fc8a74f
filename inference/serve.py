"""Run the app with uvicorn: in the foreground (`python -m inference serve`) or in a thread.

`ServerThread` is for tests, benchmarks and other tools that need a real socket on loopback:

    with ServerThread(create_app(settings, engine)) as server:
        OpenAI(base_url=f"{server.url}/v1", api_key="...")
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import uvicorn

from contract.exit_codes import ExitCode
from inference.app import create_app
from inference.engine import build_engine
from inference.settings import ServerSettings

log = logging.getLogger("inference")


def serve(settings: ServerSettings) -> int:
    """Serve until interrupted; exit code 1 if the model failed to load, else 0."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _quiet_batching_log(settings.log_level)
    engine = build_engine(settings)
    failed: list[Exception] = []
    server: uvicorn.Server | None = None

    def stop_on_failure(exc: Exception) -> None:
        failed.append(exc)
        if server is not None:
            server.should_exit = True

    app = create_app(settings, engine, on_load_failure=stop_on_failure)
    if settings.api_key is None:
        log.warning("no API key in $%s: the endpoint is open to anyone", settings.api_key_env)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
        proxy_headers=True,
    )
    server = uvicorn.Server(config)
    server.run()
    return ExitCode.FAILED if failed else ExitCode.OK


def _quiet_batching_log(level: str) -> None:
    """transformers' continuous batching logs on its own handler, tracebacks included; our log
    says in one line what failed, and its tracebacks and notes stay for `--log-level debug`."""
    if level == "debug":
        return
    batching = logging.getLogger("ContinuousBatchingLogger")  # transformers' own name for it
    batching.setLevel(logging.WARNING)

    def drop_traceback(record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True

    batching.addFilter(drop_traceback)


class ServerThread:
    """uvicorn on 127.0.0.1 in a daemon thread; `url` once started. Use as a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.url = ""

    def start(self, timeout: float = 30.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until `/ready` answers 200 (the model is loaded)."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = httpx.get(f"{self.url}/ready", timeout=5)
            if response.status_code == 200:
                return
            if response.json().get("status") == "failed":
                raise RuntimeError(f"model load failed: {response.json().get('error')}")
            time.sleep(0.1)
        raise TimeoutError("the model did not become ready")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
