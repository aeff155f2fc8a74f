"""The fine-tuning job's executions: start, list, get, stop, each mapped to its run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from cli.errors import NotFoundError
from cli.runs_on_share import is_resumable
from cli.targets.azure.errors import azure_call
from cli.targets.azure.resources import JOB_ROLE, Deployment
from cli.targets.base import Execution, ExecutionStatus, Share
from contract import env as ftk_env
from contract.commands import JOB_COMMANDS, bash_script
from contract.exit_codes import TrainingExit

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

# An --infra job (made by the AI Toolkit's bicep) runs its own command; ours replaces it.
INFRA_RUN_SCRIPT = bash_script(JOB_COMMANDS)


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _run_id(template: Mapping[str, Any] | None) -> str | None:
    for container in (template or {}).get("containers") or []:
        for var in container.get("env") or []:
            if var.get("name") == ftk_env.RUN_ID and var.get("value"):
                return str(var["value"])
    return None


class JobExecutions:
    """Executions of one ACA job. `own_command`: the job runs someone else's command (an
    --infra job), so each execution is started with ours."""

    def __init__(
        self, deployment: Deployment, share: Callable[[], Share], *, own_command: bool = False
    ):
        self.deployment = deployment
        self._share = share
        self._own_command = own_command

    def _label(self, name: str | None = None) -> str:
        job = self.deployment.job_label()
        return f"execution '{name}' of {job}" if name else job

    def start(self, run_id: str, env: Mapping[str, str] | None = None) -> Execution:
        d = self.deployment
        job = d.get_job()
        template = (job.get("properties") or {}).get("template") or {}
        extra = {ftk_env.RUN_ID: run_id, **(env or {})}
        if self._own_command:
            for name, value in ftk_env.share_env(d.mount_path).items():
                extra.setdefault(name, value)
        body: dict[str, Any] = {
            "containers": [self._execution_container(c, extra) for c in template["containers"]]
        }
        if template.get("initContainers"):
            body["initContainers"] = [
                self._execution_container(c, {}, ours=False) for c in template["initContainers"]
            ]
        with azure_call(self._label(), role=JOB_ROLE):
            started = d.apps.jobs.begin_start(d.resource_group, d.job_name, template=body).result()
        name = (started.as_dict() if started is not None else {}).get("name")
        if not name:
            raise NotFoundError(f"Azure started no execution of {self._label()}")
        return Execution(
            name=name,
            run_id=run_id,
            status=ExecutionStatus.QUEUED,
            started_at=datetime.now().astimezone(),
            portal_url=d.portal_url(),
        )

    def _execution_container(
        self, container: Mapping[str, Any], extra: Mapping[str, str], *, ours: bool = True
    ) -> dict[str, Any]:
        """The job's container as an execution template: same image, resources, env, secret
        refs (a start request replaces the whole template, so everything is copied)."""
        from cli.targets.azure.deploy import with_env

        entry: dict[str, Any] = {"name": container["name"], "image": container["image"]}
        for key in ("command", "args", "resources"):
            if container.get(key) is not None:
                entry[key] = container[key]
        entry["env"] = with_env(list(container.get("env") or []), dict(extra))
        if ours and self._own_command:
            entry["command"] = ["bash", "-c", INFRA_RUN_SCRIPT]
            entry.pop("args", None)
        return entry

    def _to_execution(self, data: Mapping[str, Any]) -> Execution:
        props = data.get("properties") or {}
        status = STATUS_MAP.get(str(props.get("status", "")).lower(), ExecutionStatus.UNKNOWN)
        return Execution(
            name=str(data.get("name")),
            run_id=_run_id(props.get("template")),
            status=status,
            started_at=_when(props.get("startTime")),
            ended_at=_when(props.get("endTime")),
            portal_url=self.deployment.portal_url(),
        )

    def list(self) -> list[Execution]:
        d = self.deployment
        with azure_call(self._label(), role=JOB_ROLE):
            raw = [e.as_dict() for e in d.apps.jobs_executions.list(d.resource_group, d.job_name)]
        found = [self._to_execution(e) for e in raw]
        epoch = datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)
        found.sort(key=lambda e: e.started_at or epoch, reverse=True)
        return self._mark_resumable(found)

    def _mark_resumable(self, executions: list[Execution]) -> list[Execution]:
        """A failed newest execution of a run whose status file says `resumable` ended on its
        time budget with a checkpoint (exit code 75), which ACA reports as a failure."""
        seen: set[str] = set()
        out = []
        for e in executions:
            newest = e.run_id is not None and e.run_id not in seen
            if e.run_id:
                seen.add(e.run_id)
            if (
                newest
                and e.status == ExecutionStatus.FAILED
                and is_resumable(self._share(), e.run_id)
            ):
                e = replace(e, status=ExecutionStatus.RESUMABLE, exit_code=TrainingExit.RESUMABLE)
            out.append(e)
        return out

    def get(self, name: str) -> Execution:
        d = self.deployment
        with azure_call(self._label(name), role=JOB_ROLE):
            data = d.apps.job_execution(d.resource_group, d.job_name, name).as_dict()
        execution = self._to_execution(data)
        if execution.status == ExecutionStatus.FAILED:
            execution = self._mark_resumable([execution])[0]
        return execution

    def stop(self, name: str) -> None:
        d = self.deployment
        with azure_call(self._label(name), role=JOB_ROLE):
            d.apps.jobs.begin_stop_execution(d.resource_group, d.job_name, name).result()
