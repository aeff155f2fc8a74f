"""Execution logs on Azure: the live stream (reconnects, token expiry, queued, Ctrl-C) and the
Log Analytics history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cli.targets.aca.log_history import history_query
from cli.targets.aca.log_lines import Dedup, parse_line
from cli.targets.base import LogNotice
from testkit.fakes.azure import FakeAzure


def _running(fake: FakeAzure, n: int = 12, **kwargs):  # type: ignore[no-untyped-def]
    execution = fake.arm.add_execution("ftk-dev-job-x1", "run-1", **kwargs)
    execution.lines = [f"step {i} loss {1.0 / (i + 1):.3f}" for i in range(n)]
    return execution


def test_follow_survives_drops_and_token_expiry_without_repeats(
    azure_target, fake_azure: FakeAzure
):
    execution = _running(fake_azure)
    fake_azure.arm.stream_plan = [
        {"drop_after": 3},  # the connection drops mid-stream
        {"expire_token": True},  # the token has expired when reconnecting
        {"drop_after": 5},
    ]
    lines = list(azure_target.stream_logs(execution.name, follow=True))
    assert lines == execution.lines
    assert fake_azure.arm.stream_connections == 4
    assert len(fake_azure.server.requests_matching("/getAuthToken")) == 2
    assert execution.status == "Succeeded"


def test_replicas_and_token_use_the_api_version_az_pins_for_them(
    azure_target, fake_azure: FakeAzure
):
    """Issue 20 finding 8: az sends these two calls with LOG_STREAM_API_VERSION."""
    execution = _running(fake_azure, n=2)
    assert list(azure_target.stream_logs(execution.name, follow=True)) == execution.lines
    for route in ("/replicas?", "/getAuthToken?"):
        sent = fake_azure.server.requests_matching(route)
        assert sent and all("api-version=2023-11-02-preview" in line for line in sent), route


def test_the_stream_url_is_the_one_az_builds(azure_target, fake_azure: FakeAzure):
    execution = _running(fake_azure, n=3)
    assert list(azure_target.stream_logs(execution.name, follow=True)) == execution.lines
    job_path = (
        f"/subscriptions/{fake_azure.SUBSCRIPTION}/resourceGroups/{fake_azure.RESOURCE_GROUP}"
        f"/jobs/{fake_azure.JOB}/executions/{execution.name}"
        f"/replicas/{execution.name}-replica/containers/finetune/logstream?"
    )
    assert fake_azure.server.requests_matching(f"GET {job_path}")
    assert fake_azure.server.requests_matching("GET /logstream/") == []


def test_without_an_event_stream_endpoint_the_replica_endpoint_is_used(
    azure_target, fake_azure: FakeAzure
):
    fake_azure.arm.job_event_stream = False
    execution = _running(fake_azure, n=3)
    assert list(azure_target.stream_logs(execution.name, follow=True)) == execution.lines
    assert fake_azure.server.requests_matching("GET /logstream/")


@pytest.mark.parametrize("tail", [-1, 301, 1000])
def test_tail_outside_what_az_allows_is_a_usage_error(azure_target, fake_azure: FakeAzure, tail):
    from cli.errors import UsageError

    execution = _running(fake_azure, finish_when_drained=None)
    with pytest.raises(UsageError, match="between 0 and 300"):
        list(azure_target.stream_logs(execution.name, follow=True, tail=tail))
    assert fake_azure.arm.stream_connections == 0


def test_identical_lines_are_kept_but_replays_are_not(azure_target, fake_azure: FakeAzure):
    execution = _running(fake_azure)
    execution.lines = ["same"] * 3 + ["other"] + ["same"] * 2
    fake_azure.arm.stream_plan = [{"drop_after": 2}, {"drop_after": 5}]
    assert list(azure_target.stream_logs(execution.name, follow=True)) == execution.lines


def test_queued_execution_says_it_waits_for_a_gpu(azure_target, fake_azure: FakeAzure):
    execution = _running(fake_azure, n=3, queued_polls=3)
    out = list(azure_target.stream_logs(execution.name, follow=True))
    notices = [line for line in out if isinstance(line, LogNotice)]
    assert len(notices) == 1 and "waiting for a GPU replica" in notices[0]
    assert [line for line in out if not isinstance(line, LogNotice)] == execution.lines


def test_not_following_prints_the_tail_and_returns(azure_target, fake_azure: FakeAzure):
    execution = _running(fake_azure, finish_when_drained=None)
    out = list(azure_target.stream_logs(execution.name, follow=False, tail=4))
    assert out == execution.lines[-4:]
    assert execution.status == "Running"


def test_ended_execution_points_to_history(azure_target, fake_azure: FakeAzure):
    execution = _running(fake_azure, status="Succeeded")
    out = list(azure_target.stream_logs(execution.name, follow=True))
    assert len(out) == 1 and isinstance(out[0], LogNotice) and "--since" in out[0]


def test_ctrl_c_while_following_leaves_the_job_running(azure_target, fake_azure: FakeAzure):
    execution = _running(fake_azure, finish_when_drained=None)
    stream = azure_target.stream_logs(execution.name, follow=True)
    assert next(stream) == execution.lines[0]
    with pytest.raises(KeyboardInterrupt):
        stream.throw(KeyboardInterrupt)
    assert execution.status == "Running"
    assert fake_azure.server.requests_matching("/stop") == []


def _console(job: str, group: str, stamp: float, text: str, batch: str) -> dict:
    return {
        "TimeGenerated": batch,
        "_timestamp_d": stamp,
        "ContainerJobName_s": job,
        "ContainerGroupName_s": group,
        "Log_s": text,
    }


def test_history_reads_one_executions_lines_in_the_order_written(
    azure_target, fake_azure: FakeAzure
):
    job, batch = fake_azure.JOB, "2026-01-01T10:00:05Z"  # one ingestion batch: one TimeGenerated
    fake_azure.arm.log_rows["ContainerAppConsoleLogs_CL"] += [
        _console(job, "ftk-dev-job-x1-7d9f-abcde", 1767261602.0, "step 2", batch),
        _console(job, "ftk-dev-job-x1-7d9f-abcde", 1767261601.0, "step 1", batch),
        _console(job, "ftk-dev-job-x2-0000-zzzzz", 1767261600.5, "another execution", batch),
        _console("other-job", "ftk-dev-job-x1-7d9f-abcde", 1767261600.0, "other job", batch),
        _console(job, "ftk-dev-job-x1-7d9f-abcde", 1767261603.0, "step 3", batch),
    ]
    out = list(azure_target.query_logs("ftk-dev-job-x1", since=timedelta(hours=2), system=False))
    assert out == [f"2026-01-01 10:00:05 step {i}" for i in (1, 2, 3)]
    tail = list(azure_target.query_logs("ftk-dev-job-x1", since=None, system=False, tail=2))
    assert tail == [f"2026-01-01 10:00:05 step {i}" for i in (2, 3)]


def test_system_events_of_an_execution(azure_target, fake_azure: FakeAzure):
    fake_azure.arm.log_rows["ContainerAppSystemLogs_CL"] += [
        {
            "TimeGenerated": "2026-01-01T09:59:00Z",
            "Log_s": "Pulling image",
            "ExecutionName_s": "ex-1",
        },
        {"TimeGenerated": "2026-01-01T09:58:00Z", "Log_s": "other", "ExecutionName_s": "ex-2"},
    ]
    system = list(azure_target.query_logs("ex-1", since=None, system=True, tail=5))
    assert system == ["2026-01-01 09:59:00 Pulling image"]
    assert "ContainerAppSystemLogs_CL" in fake_azure.arm.queries[-1]


def test_the_fake_refuses_a_query_shape_it_does_not_know(azure_target, fake_azure: FakeAzure):
    from azure.core.exceptions import HttpResponseError

    client = azure_target.deployment.connection.logs_query()
    with pytest.raises(HttpResponseError):
        client.query_workspace(
            fake_azure.WORKSPACE_ID, "ContainerAppConsoleLogs_CL | where * has 'x'", timespan=None
        )
    assert fake_azure.arm.spec_violations
    fake_azure.arm.spec_violations.clear()


def test_history_by_workspace_name_with_infra_files(infra_files, fake_azure: FakeAzure):
    import json

    from cli.errors import UsageError
    from cli.targets.aca import AzureTarget

    target = AzureTarget.from_infra_files(infra_files, connection=fake_azure.connection())
    with pytest.raises(UsageError, match="LOG_ANALYTICS_NAME"):
        list(target.query_logs("ex-1", since=None, system=False))

    data = json.loads(infra_files[0].read_text())
    infra_files[0].write_text(json.dumps({**data, "LOG_ANALYTICS_NAME": "ftk-logs"}))
    target = AzureTarget.from_infra_files(infra_files, connection=fake_azure.connection())
    out = list(target.query_logs("ex-1", since=None, system=False))
    assert len(out) == 1 and isinstance(out[0], LogNotice)  # no rows yet, said so
    assert fake_azure.server.requests_matching(
        "/Microsoft.OperationalInsights/workspaces/ftk-logs/query"
    )


def test_history_query_refuses_odd_names():
    with pytest.raises(Exception, match="invalid execution name"):
        history_query("x' | delete", job="j", system=False, tail=None)


def test_dedup_uses_timestamps():
    dedup = Dedup()
    first = [
        parse_line(f'{{"TimeStamp": "2026-01-01T00:00:0{i}Z", "Log": "l{i}"}}') for i in (1, 2)
    ]
    assert [dedup.fresh(r) for r in first] == [True, True]
    dedup.new_connection()
    replay = [*first, parse_line('{"TimeStamp": "2026-01-01T00:00:03Z", "Log": "l3"}')]
    assert [dedup.fresh(r) for r in replay] == [False, False, True]
    assert parse_line("plain text").text == "plain text"
