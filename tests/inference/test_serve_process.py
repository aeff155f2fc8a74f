"""`python -m inference serve` as `ftk deploy --local` runs it: a real process on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "inference", "serve", "--host", "127.0.0.1", "--no-ui", *args],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_process_from_env_answers_and_stops_cleanly(tiny_llama, adapter_dir):
    port = _free_port()
    proc = _start(
        [],
        {
            "FTK_BASE_MODEL": str(tiny_llama),
            "FTK_ADAPTER": str(adapter_dir),
            "PORT": str(port),
            "FTK_API_KEY": "k-123",
        },
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        from openai import OpenAI

        client = OpenAI(base_url=f"{url}/v1", api_key="k-123", max_retries=0)
        assert [m.id for m in client.models.list()] == ["run-1", tiny_llama.name]
        reply = client.chat.completions.create(
            model="run-1", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        assert reply.usage.completion_tokens > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says why
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "k-123" not in output


def test_serve_process_exits_1_when_the_model_cannot_load(tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "llama"}')
    proc = _start(["--base", str(broken), "--port", str(_free_port())], {})
    output = proc.communicate(timeout=90)[0]
    assert proc.returncode == 1, output
    assert "model load failed" in output


def test_serve_refuses_a_kv_cache_larger_than_memory_with_one_line(tiny_llama):
    """A cache that cannot fit is refused at load: never a server that says ready and hangs."""
    port = _free_port()
    proc = _start(
        ["--base", str(tiny_llama), "--port", str(port), "--kv-cache-tokens", str(10**13)], {}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                ready = httpx.get(f"{url}/ready", timeout=2)
            except httpx.TransportError:
                ready = None
            assert ready is None or ready.status_code == 503, "ready with a cache that cannot fit"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 1, output
    failures = [line for line in output.splitlines() if "model load failed" in line]
    assert len(failures) == 1 and "KV cache" in failures[0], output
    assert "Traceback" not in output, output
