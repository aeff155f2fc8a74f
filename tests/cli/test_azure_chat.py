"""`ftk chat` and `ftk endpoint` against an Azure target (stack outputs or `--infra` files): the
endpoint's key comes from the stack's secret output or the app's secrets through ARM, reaches a
loopback OpenAI-compatible stand-in as the bearer key, and is never printed unless asked.

The app scales to zero: `ftk chat`, `ftk endpoint` and `ftk deploy` wake it and poll `/ready`
(issue 10, finding 6); the stand-in answers like the ingress while its replica starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from cli.ops import wake
from cli.targets.azure import clients as azure_clients
from cli.targets.azure import stack as stack_outputs
from testkit.fakes.azure import FakeAzure
from testkit.fakes.openai_server import StandIn
from testkit.fakes.pulumi_auto import FakeAuto

KEY = "sk-fake-endpoint-key"  # what FakeAzure's stack output and app secret hold


def _echo_last(body: dict) -> str:
    """Stream "echo: <last message>" word by word."""
    return "echo: " + body["messages"][-1]["content"]


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """The inference app's stand-in on plain http://127.0.0.1 (the openai client accepts it);
    it answers only `Bearer KEY`."""
    with StandIn(KEY, reply=_echo_last) as server:
        yield server


def _url(server: StandIn) -> str:
    return server.url


@pytest.fixture
def app_at(fake_azure: FakeAzure, monkeypatch):  # type: ignore[no-untyped-def]
    """Point the fake app at the stand-in: no ingress FQDN, so ACA_APP_ENDPOINT is the URL."""
    monkeypatch.setattr(azure_clients, "default_credential", lambda: fake_azure.credential)
    ingress = fake_azure.arm.apps[fake_azure.APP]["properties"]["configuration"]["ingress"]
    ingress.pop("fqdn")


def _stack_ftk(fake_azure: FakeAzure, project: Path, monkeypatch, **outputs):  # type: ignore[no-untyped-def]
    (project / "Pulumi.yaml").write_text("name: ftk\nruntime: python\n")
    auto = FakeAuto(fake_azure.outputs(**outputs))
    monkeypatch.setattr(stack_outputs, "_automation", lambda: auto)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, ["--project-dir", str(project), *args], env=fake_azure.env())

    return run


def _infra_ftk(fake_azure: FakeAzure, project: Path, tmp_path: Path, url: str):  # type: ignore[no-untyped-def]
    """`ftk --infra ...` with the AI Toolkit's files; they hold no key (no secret output)."""
    folder = tmp_path / "infra-chat"
    folder.mkdir()
    infra = []
    for name, data in fake_azure.infra_files().items():
        assert "ACA_APP_API_KEY" not in data
        if "ACA_APP_ENDPOINT" in data:
            data = {**data, "ACA_APP_ENDPOINT": url}
        (folder / name).write_text(json.dumps(data))
        infra += ["--infra", str(folder / name)]

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(
            cli, [*infra, "--project-dir", str(project), *args], env=fake_azure.env()
        )

    return run


def test_stack_chat_streams_with_the_secret_output_key(
    fake_azure: FakeAzure, project: Path, standin, app_at, monkeypatch
):
    ftk = _stack_ftk(fake_azure, project, monkeypatch, ACA_APP_ENDPOINT=_url(standin))
    result = ftk("chat", "hi there")
    assert result.exit_code == 0, result.output
    assert result.stdout == "echo: hi there\n"
    assert KEY not in result.output
    (request,) = standin.requests
    assert request["model"] == "microsoft/Phi-3-mini-4k-instruct" and request["stream"] is True

    shown = ftk("endpoint", "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["url"] == _url(standin) and data.get("api_key") is None
    assert KEY not in shown.output
    with_key = ftk("endpoint", "--show-key", "--json")
    assert with_key.exit_code == 0, with_key.output
    assert json.loads(with_key.stdout)["api_key"] == KEY


def test_infra_chat_reads_the_key_from_the_app_secrets(
    fake_azure: FakeAzure, project: Path, tmp_path: Path, standin, app_at
):
    ftk = _infra_ftk(fake_azure, project, tmp_path, _url(standin))
    result = ftk("chat", "hello")
    assert result.exit_code == 0, result.output
    assert result.stdout == "echo: hello\n"
    assert KEY not in result.output
    assert any("listSecrets" in line for line in fake_azure.server.log)

    assert KEY not in ftk("endpoint", "--json").output
    with_key = ftk("endpoint", "--show-key", "--json")
    assert json.loads(with_key.stdout)["api_key"] == KEY


def test_wrong_stack_key_exit_4_with_hint(
    fake_azure: FakeAzure, project: Path, standin, app_at, monkeypatch
):
    ftk = _stack_ftk(
        fake_azure, project, monkeypatch, ACA_APP_ENDPOINT=_url(standin), ACA_APP_API_KEY="sk-old"
    )
    result = ftk("chat", "hi")
    assert result.exit_code == 4, result.output
    assert "refused the API key" in result.output and "hint:" in result.output
    assert "Traceback" not in result.output and "sk-old" not in result.output
    assert len(standin.requests) == 1  # a refused key is not retried


def test_infra_app_without_the_key_secret_exit_4(
    fake_azure: FakeAzure, project: Path, tmp_path: Path, standin, app_at
):
    """Issue 10 finding 9: a key ftk could not find is named as missing, not as refused."""
    fake_azure.arm.app_secrets.clear()
    result = _infra_ftk(fake_azure, project, tmp_path, _url(standin))("chat", "hi")
    assert result.exit_code == 4, result.output
    assert "needs an API key and ftk found none" in result.output
    assert "has no secret 'api-key'" in result.output and "hint:" in result.output
    assert "refused" not in result.output and "Traceback" not in result.output


def test_infra_chat_without_secret_permission_exit_4_names_role(
    fake_azure: FakeAzure, project: Path, tmp_path: Path, standin, app_at
):
    fake_azure.arm.deny.add("/listSecrets")
    result = _infra_ftk(fake_azure, project, tmp_path, _url(standin))("chat", "hi")
    assert result.exit_code == 4, result.output
    assert "Container Apps Contributor" in result.output
    assert "Traceback" not in result.output and standin.requests == []


class _Clock:
    """Stands in for `wake`'s clock and sleep: a sleep moves time on at once (and can raise)."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []
        self.interrupt = False

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.interrupt:
            raise KeyboardInterrupt
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> _Clock:  # type: ignore[no-untyped-def]
    fake = _Clock()
    monkeypatch.setattr(wake, "_clock", fake.clock)
    monkeypatch.setattr(wake, "_sleep", fake.sleep)
    return fake


def _posts(server: StandIn) -> list[int]:
    return [status for method, _, status in server.log if method == "POST"]


def test_chat_wakes_a_scaled_to_zero_app_before_sending(
    fake_azure: FakeAzure, project: Path, standin, app_at, clock, monkeypatch
):
    """Issue 10 finding 6: ingress 502/504 and the server's 503 while the replica starts are
    "still waking"; the chat request goes only once /ready answers, and it is never refused."""
    standin.waking[:] = [502, 504, 503, 503]
    ftk = _stack_ftk(fake_azure, project, monkeypatch, ACA_APP_ENDPOINT=_url(standin))
    result = ftk("chat", "hi there")
    assert result.exit_code == 0, result.output
    assert result.stdout == "echo: hi there\n"
    assert "to wake (HTTP 502)" in result.stderr and "is ready (waited 20 s)" in result.stderr
    assert clock.sleeps == [wake.DEFAULT_INTERVAL_S] * 4
    assert _posts(standin) == [200]  # one chat request, sent after the wake
    assert [p for _, p, s in standin.log[:5]] == ["/ready"] * 5


def test_chat_gives_up_on_an_app_that_never_wakes(
    fake_azure: FakeAzure, project: Path, standin, app_at, clock, monkeypatch
):
    standin.waking[:] = [503] * 100
    ftk = _stack_ftk(fake_azure, project, monkeypatch, ACA_APP_ENDPOINT=_url(standin))
    result = ftk("chat", "hi", "--wait", "60")
    assert result.exit_code == 5, result.output
    assert "not ready after 60 s (last answer: HTTP 503 (loading))" in result.stderr
    assert "--wait SECONDS" in result.stderr and "hint:" in result.stderr
    assert len(standin.log) == 13 and _posts(standin) == []  # a poll every 5 s, no chat
    assert "Traceback" not in result.output


def test_ctrl_c_while_waking_sends_nothing(
    fake_azure: FakeAzure, project: Path, standin, app_at, clock, monkeypatch
):
    standin.waking[:] = [502] * 10
    clock.interrupt = True
    ftk = _stack_ftk(fake_azure, project, monkeypatch, ACA_APP_ENDPOINT=_url(standin))
    result = ftk("chat", "hi")
    assert result.exit_code == 130, result.output
    assert "nothing was sent" in result.stderr and "Traceback" not in result.output
    assert _posts(standin) == [] and len(standin.log) == 1


def test_endpoint_and_deploy_wake_the_app(
    fake_azure: FakeAzure, project: Path, standin, app_at, clock, monkeypatch
):
    ftk = _stack_ftk(fake_azure, project, monkeypatch, ACA_APP_ENDPOINT=_url(standin))
    as_is = ftk("endpoint", "--json", "--wait", "0")
    assert as_is.exit_code == 0, as_is.output
    assert standin.log == []  # --wait 0 does not wake the app

    standin.waking[:] = [502, 503]
    shown = ftk("endpoint", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["ready"] is True and len(standin.log) == 3

    files = fake_azure.files
    files.dirs["ftk"].update({"runs", "runs/r9", "runs/r9/adapter"})
    adapter = json.dumps({"base_model_name_or_path": "microsoft/Phi-3-mini-4k-instruct"})
    files.files["ftk"]["runs/r9/adapter/adapter_config.json"] = bytearray(adapter.encode())
    standin.waking[:] = [504, 503, 503]
    deployed = ftk("deploy", "r9", "--no-sync")
    assert deployed.exit_code == 0, deployed.output
    assert [s for _, _, s in standin.log[3:]] == [504, 503, 503, 200]
    assert "is ready (waited 15 s)" in deployed.stderr


def test_a_vllm_app_is_woken_through_its_health_path(
    fake_azure: FakeAzure, project: Path, app_at, clock, monkeypatch
):
    """The vLLM app has no /ready, and its RequireKey middleware answers 401 to any other path
    without the key: the wake poll must use the engine's ready path (/health, contract.engines),
    or `ftk chat`, `endpoint` and `deploy` fail on every stack with `inferenceEngine: vllm`."""
    with StandIn(KEY, reply=_echo_last, vllm=True) as vllm:
        vllm.waking[:] = [502, 503]
        ftk = _stack_ftk(
            fake_azure, project, monkeypatch, ACA_APP_ENDPOINT=vllm.url, INFERENCE_ENGINE="vllm"
        )
        result = ftk("chat", "hi there")
        assert result.exit_code == 0, result.output
        assert result.stdout == "echo: hi there\n"
        polls = [(p, s) for m, p, s in vllm.log if m == "GET" and not p.startswith("/v1/")]
        assert polls[:3] == [("/health", 502), ("/health", 503), ("/health", 200)]
        assert {p for p, _ in polls} == {"/health"}  # never /ready, which vLLM does not serve
        shown = ftk("endpoint", "--json")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["ready"] is True


def test_the_chat_client_speaks_to_the_endpoint_under_the_installed_openai() -> None:
    """openai 3.x validates its timeout against httpx2's type and refuses httpx's (issue 19):
    `client_for` must hand the client a timeout of the client's own type, whichever openai and
    httpx pip resolved."""
    from cli.ops.chat import client_for, pick_model, stream_reply
    from cli.targets.base import Endpoint

    with StandIn(KEY, models=["base", "run-1"], reply=_echo_last) as server:
        endpoint = Endpoint(url=server.url, api_key=KEY)
        client = client_for(endpoint)
        assert pick_model(client, endpoint, None) == "run-1"
        deltas: list[str] = []
        reply = stream_reply(
            client, endpoint, "run-1", [{"role": "user", "content": "hi"}], deltas.append
        )
        assert reply == "echo: hi" and "".join(deltas) == reply
