"""The fine-tuning job's executions: start, list, get, stop, each mapped to its run.

No execution is started with a template override: an override replaces the job's whole template
and an execution template has no volume mounts, so the share would be gone (MicrosoftDocs/
azure-docs articles/container-apps/jobs.md, "Start a job execution on demand"; Azure/azure-rest-
api-specs Microsoft.App `JobExecutionContainer`, which has no `volumeMounts`). Instead `start`
starts the job as it is and then leaves a run request on the share under the new execution's
name; that execution takes its own request and no other (`training.claim`, `contract.requests`),
so the requests say which run each execution trains.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cli.errors import NotFoundError, UsageError
from cli.targets.aca.job_command import JobCommand
from cli.targets.aca.resources import JOB_ROLE, Deployment
from cli.targets.azure.errors import azure_call
from cli.targets.base import Execution, ExecutionStatus, Share
from cli.targets.runs_on_share import is_resumable
from contract import env as ftk_env
from contract.exit_codes import ExitCode
from contract.layout import CLAIMS_DIR, REQUESTS_DIR
from contract.requests import RunRequest, request_path

# ACA execution states -> ours. "Processing": accepted, no replica yet (waiting for a GPU).
STATUS_MAP = {
    "processing": ExecutionStatus.QUEUED,
    "running": ExecutionStatus.RUNNING,
    "succeeded": ExecutionStatus.SUCCEEDED,
    "failed": ExecutionStatus.FAILED,
    "degraded": ExecutionStatus.FAILED,
    "stopped": ExecutionStatus.STOPPED,
    "unknown": ExecutionStatus.UNKNOWN,
}


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _legacy_run_id(template: Mapping[str, Any] | None) -> str | None:
    """Executions started by earlier ftk versions carried FTK_RUN_ID in a start override."""
    for container in (template or {}).get("containers") or []:
        for var in container.get("env") or []:
            if var.get("name") == ftk_env.RUN_ID and var.get("value"):
                return str(var["value"])
    return None


def _check_stack_job(job: Mapping[str, Any]) -> list[str]:
    """A job deployed by an earlier ftk reads FTK_RUN_ID, which no execution gets any more."""
    template = (job.get("properties") or {}).get("template") or {}
    for container in template.get("containers") or []:
        script = " ".join([*(container.get("command") or []), *(container.get("args") or [])])
        if f"${ftk_env.RUN_ID}" in script or "${" + ftk_env.RUN_ID + "}" in script:
            raise UsageError(
                f"the job's command reads ${ftk_env.RUN_ID}, which executions no longer get",
                hint="run `pulumi up` so the job claims its run from the share (if you set "
                '`commands`, end them with `python -m training claim --workspace "$MOUNT_PATH"`)',
            )
    return []


class JobExecutions:
    """Executions of one ACA job. `command`: set for a job that runs someone else's command (an
    --infra job); its template command is changed to ftk's once, before the first start."""

    def __init__(
        self,
        deployment: Deployment,
        share: Callable[[], Share],
        *,
        command: JobCommand | None = None,
    ):
        self.deployment = deployment
        self._share = share
        self._command = command

    def _label(self, name: str | None = None) -> str:
        job = self.deployment.job_label()
        return f"execution '{name}' of {job}" if name else job

    # -- requests ---------------------------------------------------------------------------

    def _run_of(self, name: str) -> str | None:
        """The run execution `name` is for: its request (left by `start`), else the record of
        its take (the request was removed by `stop`)."""
        share = self._share()
        for path in (REQUESTS_DIR, CLAIMS_DIR):
            try:
                return RunRequest.from_bytes(share.read_bytes(f"{path}/{name}.json")).run_id
            except (ValueError, NotFoundError):
                continue
        return None

    def _runs_of(self, names: set[str]) -> dict[str, str]:
        """Execution name -> run id, for the named executions (one listing per folder)."""
        share = self._share()
        runs: dict[str, str] = {}
        for folder in (REQUESTS_DIR, CLAIMS_DIR):
            for item in share.list_files(folder):
                name = item.path.rsplit("/", 1)[-1].removesuffix(".json")
                if name not in names or name in runs:
                    continue
                try:
                    runs[name] = RunRequest.from_bytes(share.read_bytes(item.path)).run_id
                except (ValueError, NotFoundError):
                    continue
        return runs

    # -- verbs --------------------------------------------------------------------------------

    def start(self, run_id: str, env: Mapping[str, str] | None = None) -> Execution:
        """Start an execution, then leave the run's request under its name. The order matters:
        a request written first, for no execution yet, could be taken by the wrong one."""
        d = self.deployment
        job = d.get_job()  # the job exists and we may use it
        notes = self._command.ensure(job) if self._command else _check_stack_job(job)
        share = self._share()
        share.make_dirs(REQUESTS_DIR)
        with azure_call(self._label(), role=JOB_ROLE):
            started = d.apps.jobs.begin_start(d.resource_group, d.job_name).result()
        name = (started.as_dict() if started is not None else {}).get("name")
        if not name:
            raise NotFoundError(f"Azure started no execution of {self._label()}")
        now = datetime.now(UTC).isoformat()
        request = RunRequest(run_id, dict(env or {}), now, execution=name)
        try:
            share.write_bytes(request_path(name), request.to_bytes())
        except BaseException:
            # Without its request the execution would wait, then fail: stop it now.
            with contextlib.suppress(Exception):
                self.stop(name)
            raise
        return Execution(
            name=name,
            run_id=run_id,
            status=ExecutionStatus.QUEUED,
            started_at=datetime.now().astimezone(),
            portal_url=d.portal_url(),
            notes=tuple(notes),
        )

    def _to_execution(self, data: Mapping[str, Any], run_id: str | None) -> Execution:
        props = data.get("properties") or {}
        status = STATUS_MAP.get(str(props.get("status", "")).lower(), ExecutionStatus.UNKNOWN)
        return Execution(
            name=str(data.get("name")),
            run_id=run_id or _legacy_run_id(props.get("template")),
            status=status,
            started_at=_when(props.get("startTime")),
            ended_at=_when(props.get("endTime")),
            portal_url=self.deployment.portal_url(),
        )

    def list(self) -> list[Execution]:
        d = self.deployment
        with azure_call(self._label(), role=JOB_ROLE):
            raw = [e.as_dict() for e in d.apps.jobs_executions.list(d.resource_group, d.job_name)]
        runs = self._runs_of({str(e.get("name")) for e in raw}) if raw else {}
        found = [self._to_execution(e, runs.get(str(e.get("name")))) for e in raw]
        epoch = datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)
        found.sort(key=lambda e: e.started_at or epoch, reverse=True)
        return self._mark_resumable(found)

    def _mark_resumable(self, executions: builtins.list[Execution]) -> builtins.list[Execution]:
        """A failed newest execution of a run whose status file says `resumable` ended on its
        time budget with a checkpoint (exit code 75), which ACA reports as a failure."""
        seen: set[str] = set()
        out = []
        for e in executions:
            newest = e.run_id is not None and e.run_id not in seen
            if e.run_id:
                seen.add(e.run_id)
            failed = e.status == ExecutionStatus.FAILED
            if newest and failed and is_resumable(self._share(), e.run_id):
                e = replace(e, status=ExecutionStatus.RESUMABLE, exit_code=ExitCode.RESUMABLE)
            out.append(e)
        return out

    def get(self, name: str) -> Execution:
        d = self.deployment
        with azure_call(self._label(name), role=JOB_ROLE):
            data = d.apps.job_execution(d.resource_group, d.job_name, name).as_dict()
        execution = self._to_execution(data, self._run_of(name))
        if execution.status == ExecutionStatus.FAILED:
            execution = self._mark_resumable([execution])[0]
        return execution

    def stop(self, name: str) -> None:
        """Stop the execution and remove its request: a stopped execution never takes it, and
        no other execution would. Which run it was for stays readable from its take record
        when it had started; a queued one loses it with the request."""
        d = self.deployment
        with azure_call(self._label(name), role=JOB_ROLE):
            d.apps.jobs.begin_stop_execution(d.resource_group, d.job_name, name).result()
        with contextlib.suppress(NotFoundError, ValueError):
            self._share().delete(request_path(name))
