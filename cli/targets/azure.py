"""`AzureTarget`: the fine-tuning job, its share and the inference app of one deployment.

The deployment comes from a Pulumi stack's outputs (`from_stack`) or from the AI Toolkit's
config files (`from_infra_files`). ARM goes through azure-mgmt-appcontainers, the share through
azure-storage-file-share with the account key fetched at use time, history through
azure-monitor-query; all clients come from one injectable `AzureConnection`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from cli.errors import NotFoundError, UsageError
from cli.runs_on_share import is_resumable
from cli.targets.azure_clients import PORTAL, AzureConnection
from cli.targets.azure_config import TargetConfig
from cli.targets.azure_errors import azure_call
from cli.targets.base import Capabilities, Endpoint, Execution, ExecutionStatus, Share
from cli.targets.stack_outputs import PulumiStack
from contract import env as ftk_env
from contract import outputs as keys
from contract.commands import JOB_COMMANDS, bash_script
from contract.exit_codes import TrainingExit
from contract.layout import RunLayout
from contract.secrets import RULE as SECRET_NAME_RULE
from contract.secrets import aca_secret_name

JOB_ROLE = "Container Apps Jobs Operator (or Contributor)"
SECRET_ROLE = "Container Apps Contributor"
KEY_ROLE = "Storage Account Key Operator Service Role (or Contributor)"
LOGS_ROLE = "Log Analytics Reader"
# Job replicas and getAuthToken have no typed operation in azure-mgmt-appcontainers 5.1.
STREAM_API_VERSION = "2023-11-02-preview"  # what `az containerapp job logs` uses

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


class AzureTarget:
    """The `Target` protocol over Azure Container Apps + Azure Files + Log Analytics."""

    capabilities = Capabilities(log_history=True)

    def __init__(
        self,
        config: TargetConfig | Callable[[], TargetConfig],
        *,
        kind: str,
        connection: AzureConnection | None = None,
        stack: PulumiStack | None = None,
        own_command: bool = False,
    ):
        # A stack's outputs are read on first use: its secret verbs need only its config, so they
        # work between `pulumi stack init` and the first `pulumi up`.
        self._config = config
        self._kind = kind
        # An --infra job (made by the AI Toolkit's bicep) runs its own command; ours replaces it.
        self._own_command = own_command
        self.connection = connection or AzureConnection.from_env()
        self._stack = stack
        self._share: Share | None = None

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_stack(
        cls, project_dir: Path, stack: str | None, *, connection: AzureConnection | None = None
    ) -> AzureTarget:
        pulumi_stack = PulumiStack.open(project_dir, stack)
        return cls(pulumi_stack.config, kind="stack", connection=connection, stack=pulumi_stack)

    @classmethod
    def from_infra_files(
        cls, files: list[Path], *, connection: AzureConnection | None = None
    ) -> AzureTarget:
        from cli.targets.infra_files import read_infra_files

        return cls(
            read_infra_files(list(files)), kind="infra", connection=connection, own_command=True
        )

    @classmethod
    def from_outputs(
        cls,
        outputs: Mapping[str, Any],
        *,
        kind: str = "stack",
        connection: AzureConnection | None = None,
    ) -> AzureTarget:
        """From already-read values (tests; secret keys are kept apart)."""
        values = {k: v for k, v in outputs.items() if k not in keys.SECRET_KEYS}
        secrets = {k: v for k, v in outputs.items() if k in keys.SECRET_KEYS}
        config = TargetConfig(
            origin="given outputs", values=values, secrets=secrets, from_stack=kind == "stack"
        )
        own = kind != "stack"
        return cls(config, kind=kind, connection=connection, own_command=own)

    @cached_property
    def config(self) -> TargetConfig:
        """The output-contract values; for a stack, read (or found missing) here, once."""
        return self._config if isinstance(self._config, TargetConfig) else self._config()

    # -- names ----------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self._kind

    def describe(self) -> Mapping[str, str]:
        return self.config.public()

    @cached_property
    def subscription(self) -> str:
        return self.config.require(keys.SUBSCRIPTION_ID)

    @cached_property
    def resource_group(self) -> str:
        return self.config.require(keys.RESOURCE_GROUP_NAME)

    @cached_property
    def job_name(self) -> str:
        return self.config.require(keys.ACA_JOB_NAME, purpose="for the fine-tuning job")

    @cached_property
    def app_name(self) -> str:
        return self.config.require(keys.ACA_APP_NAME, purpose="for the inference app")

    @property
    def mount_path(self) -> str:
        return self.config.get(keys.MOUNT_PATH) or keys.DEFAULT_MOUNT_PATH

    def _job_label(self) -> str:
        return f"job '{self.job_name}' in resource group '{self.resource_group}'"

    def _resource_id(self, provider: str, name: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{provider}/{name}"
        )

    def portal_url(self, execution: str | None = None) -> str:
        job = self._resource_id("Microsoft.App/jobs", self.job_name)
        # The execution history blade lists every execution with its logs and exit state.
        return f"{PORTAL}/#@/resource{job}/executionHistory"

    # -- clients --------------------------------------------------------------------------

    @cached_property
    def apps(self) -> Any:
        return self.connection.container_apps(self.subscription)

    def share(self) -> Share:
        if self._share is None:
            from cli.targets.azure_share import AzureFileShare, share_client_factory

            account = self.config.require(keys.STORAGE_ACCOUNT_NAME, purpose="for the share")
            share = self.config.require(keys.FILE_SHARE_NAME, purpose="for the share")
            factory = share_client_factory(
                account_url=self.connection.storage_account_url(account),
                share_name=share,
                account_name=account,
                key_provider=lambda: self._account_key(account),
                transport_kwargs=self.connection.share_transport_kwargs,
            )
            self._share = AzureFileShare(
                factory,
                label=f"file share '{share}' in storage account '{account}'",
                parallelism=self.connection.max_connections,
            )
        return self._share

    def _account_key(self, account: str) -> str:
        """The storage account key, fetched now through ARM; held only by the share client."""
        client = self.connection.storage_mgmt(self.subscription)
        with azure_call(f"keys of storage account '{account}'", role=KEY_ROLE):
            result = client.storage_accounts.list_keys(self.resource_group, account).as_dict()
        found = [k.get("value") for k in result.get("keys") or [] if k.get("value")]
        if not found:
            raise NotFoundError(f"storage account '{account}' returned no keys")
        return str(found[0])

    # -- executions -----------------------------------------------------------------------

    def _get_job(self) -> dict[str, Any]:
        with azure_call(self._job_label(), role=JOB_ROLE):
            return self.apps.jobs.get(self.resource_group, self.job_name).as_dict()

    def start_execution(self, run_id: str, env: Mapping[str, str] | None = None) -> Execution:
        job = self._get_job()
        template = (job.get("properties") or {}).get("template") or {}
        extra = {ftk_env.RUN_ID: run_id, **(env or {})}
        if self._own_command:
            for name, value in ftk_env.share_env(self.mount_path).items():
                extra.setdefault(name, value)
        body: dict[str, Any] = {
            "containers": [self._execution_container(c, extra) for c in template["containers"]]
        }
        if template.get("initContainers"):
            body["initContainers"] = [
                self._execution_container(c, {}, ours=False) for c in template["initContainers"]
            ]
        with azure_call(self._job_label(), role=JOB_ROLE):
            started = self.apps.jobs.begin_start(
                self.resource_group, self.job_name, template=body
            ).result()
        name = (started.as_dict() if started is not None else {}).get("name")
        if not name:
            raise NotFoundError(f"Azure started no execution of {self._job_label()}")
        return Execution(
            name=name,
            run_id=run_id,
            status=ExecutionStatus.QUEUED,
            started_at=datetime.now().astimezone(),
            portal_url=self.portal_url(name),
        )

    def _execution_container(
        self, container: Mapping[str, Any], extra: Mapping[str, str], *, ours: bool = True
    ) -> dict[str, Any]:
        """The job's container as an execution template: same image, resources, env, secret
        refs (a start request replaces the whole template, so everything is copied)."""
        from cli.targets.azure_deploy import with_env

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
            portal_url=self.portal_url(str(data.get("name"))),
        )

    def executions(self) -> list[Execution]:
        with azure_call(self._job_label(), role=JOB_ROLE):
            raw = [
                e.as_dict()
                for e in self.apps.jobs_executions.list(self.resource_group, self.job_name)
            ]
        found = [self._to_execution(e) for e in raw]
        epoch = datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)
        found.sort(key=lambda e: e.started_at or epoch, reverse=True)
        return self._mark_resumable(found)

    def _mark_resumable(self, executions: list[Execution]) -> list[Execution]:
        """A failed newest execution of a run whose status file says `resumable` ended on its
        time budget with a checkpoint (exit code 75), which ACA reports as a failure."""
        from dataclasses import replace

        seen: set[str] = set()
        out = []
        for e in executions:
            newest = e.run_id is not None and e.run_id not in seen
            if e.run_id:
                seen.add(e.run_id)
            if (
                newest
                and e.status == ExecutionStatus.FAILED
                and is_resumable(self.share(), e.run_id)
            ):
                e = replace(e, status=ExecutionStatus.RESUMABLE, exit_code=TrainingExit.RESUMABLE)
            out.append(e)
        return out

    def get_execution(self, name: str) -> Execution:
        label = f"execution '{name}' of {self._job_label()}"
        with azure_call(label, role=JOB_ROLE):
            data = self.apps.job_execution(self.resource_group, self.job_name, name).as_dict()
        execution = self._to_execution(data)
        if execution.status == ExecutionStatus.FAILED:
            execution = self._mark_resumable([execution])[0]
        return execution

    def stop_execution(self, name: str) -> None:
        label = f"execution '{name}' of {self._job_label()}"
        with azure_call(label, role=JOB_ROLE):
            self.apps.jobs.begin_stop_execution(self.resource_group, self.job_name, name).result()

    # -- logs -----------------------------------------------------------------------------

    def stream_logs(self, name: str, *, follow: bool, tail: int | None = None) -> Iterator[str]:
        from cli.targets.azure_logs import live_lines

        return live_lines(
            _LiveSource(self),
            name,
            follow=follow,
            tail=tail,
            interval=max(self.connection.polling_interval, 0.0),
        )

    def query_logs(
        self, name: str, *, since: timedelta | None, system: bool, tail: int | None = None
    ) -> Iterator[str]:
        from cli.targets.azure_logs import history_lines

        workspace_id = self.config.get(keys.LOG_ANALYTICS_WORKSPACE_ID)
        workspace_name = self.config.get(keys.LOG_ANALYTICS_NAME)
        resource_id = (
            self._resource_id("Microsoft.OperationalInsights/workspaces", workspace_name)
            if workspace_name and not workspace_id
            else None
        )
        label = f"Log Analytics workspace '{workspace_name or workspace_id}'"
        client = self.connection.logs_query()
        lines = history_lines(
            client,
            execution=name,
            since=since,
            system=system,
            tail=tail,
            workspace_id=workspace_id,
            workspace_resource_id=resource_id,
        )
        with azure_call(label, role=LOGS_ROLE):
            yield from lines

    # -- secrets --------------------------------------------------------------------------

    @cached_property
    def secrets(self) -> _AzureSecrets:
        return _AzureSecrets(self)

    def list_secrets(self) -> list[str]:
        names: set[str] = set()
        if self._stack is not None:
            names.update(self._stack.secret_names())
            if not self._stack.has_outputs():
                return sorted(names)  # not deployed yet: there is no job to read
        job = self._get_job()
        for container in ((job.get("properties") or {}).get("template") or {}).get(
            "containers"
        ) or []:
            names.update(e["name"] for e in container.get("env") or [] if e.get("secretRef"))
        return sorted(names)

    def set_secret(self, name: str, value: str, *, apply: bool = False) -> str:
        secret = _aca_secret_name(name)
        if self._stack is not None:
            self._stack.set_secret(name, value)
            return self._stack_message(f"stored {name} in stack '{self._stack.name}'", apply)

        def change(secrets: list[dict[str, Any]], containers: list[dict[str, Any]]) -> None:
            secrets[:] = [s for s in secrets if s.get("name") != secret]
            secrets.append({"name": secret, "value": value})
            for container in containers:
                kept = [e for e in container.get("env") or [] if e.get("name") != name]
                container["env"] = [*kept, {"name": name, "secretRef": secret}]

        self._patch_job_secrets(change)
        return (
            f"set {name} on job '{self.job_name}' (ACA secret '{secret}'); "
            "the next execution sees it"
        )

    def remove_secret(self, name: str, *, apply: bool = False) -> str:
        secret = _aca_secret_name(name)
        if self._stack is not None:
            if name not in self._stack.secret_names():
                raise NotFoundError(f"stack '{self._stack.name}' has no job secret {name}")
            self._stack.remove_secret(name)
            return self._stack_message(f"removed {name} from stack '{self._stack.name}'", apply)
        found: list[bool] = []

        def change(secrets: list[dict[str, Any]], containers: list[dict[str, Any]]) -> None:
            before = len(secrets)
            secrets[:] = [s for s in secrets if s.get("name") != secret]
            found.append(len(secrets) != before)
            for container in containers:
                container["env"] = [
                    e
                    for e in container.get("env") or []
                    if e.get("name") != name and e.get("secretRef") != secret
                ]

        self._patch_job_secrets(change, require=lambda: any(found), missing=name)
        return f"removed {name} (ACA secret '{secret}') from job '{self.job_name}'"

    def _stack_message(self, done: str, apply: bool) -> str:
        assert self._stack is not None
        if apply:
            self._stack.up()
            return f"{done} and applied it with `pulumi up`"
        return (
            f"{done} as a Pulumi secret (jobSecrets); run `pulumi up --stack "
            f"{self._stack.name}` to apply it to the job"
        )

    def _patch_job_secrets(self, change: Any, *, require: Any = None, missing: str = "") -> None:
        """Read the job and its secret values, let `change` edit them, write both back."""
        job = self._get_job()
        props = job.get("properties") or {}
        configuration = dict(props.get("configuration") or {})
        template = props.get("template") or {}
        with azure_call(f"secrets of {self._job_label()}", role=SECRET_ROLE):
            listed = self.apps.jobs.list_secrets(self.resource_group, self.job_name).as_dict()
        secrets = [dict(s) for s in listed.get("value") or []]
        change(secrets, template.get("containers") or [])
        if require is not None and not require():
            raise NotFoundError(f"job '{self.job_name}' has no secret {missing}")
        configuration["secrets"] = secrets
        body = {"properties": {"configuration": configuration, "template": template}}
        with azure_call(self._job_label(), role=SECRET_ROLE):
            self.apps.jobs.begin_update(self.resource_group, self.job_name, body).result()

    # -- inference app --------------------------------------------------------------------

    def deploy(self, run_id: str | None, *, base_model: str | None) -> Endpoint:
        from cli.targets.azure_deploy import update_app_env, wait_ready

        adapter = RunLayout(run_id, root=self.mount_path).adapter if run_id else None
        changes: dict[str, str | None] = {ftk_env.ADAPTER: adapter}
        if base_model:
            changes[ftk_env.BASE_MODEL] = base_model
        update_app_env(self.apps, self.resource_group, self.app_name, changes)
        app = wait_ready(
            self.apps,
            self.resource_group,
            self.app_name,
            timeout=self.connection.deploy_timeout,
            interval=self.connection.polling_interval,
        )
        return self._endpoint_of(app, ready=True, model=run_id or base_model)

    def stop_endpoint(self) -> bool:
        raise UsageError("an Azure app scales to zero by itself; there is nothing to stop")

    def close(self) -> None:
        self.__dict__.pop("apps", None)

    def endpoint(self) -> Endpoint:
        with azure_call(f"container app '{self.app_name}'", role=SECRET_ROLE):
            app = self.apps.container_apps.get(self.resource_group, self.app_name).as_dict()
        props = app.get("properties") or {}
        ready = bool(props.get("latestRevisionName")) and props.get(
            "latestRevisionName"
        ) == props.get("latestReadyRevisionName")
        return self._endpoint_of(app, ready=ready, model=None)

    def _endpoint_of(self, app: Mapping[str, Any], *, ready: bool, model: str | None) -> Endpoint:
        props = app.get("properties") or {}
        fqdn = ((props.get("configuration") or {}).get("ingress") or {}).get("fqdn")
        url = f"https://{fqdn}" if fqdn else self.config.get(keys.ACA_APP_ENDPOINT)
        if not url:
            raise NotFoundError(
                f"container app '{self.app_name}' has no ingress",
                hint="enable external ingress on the app (the stack does), or set ACA_APP_ENDPOINT",
            )
        app_env = {}
        for container in (props.get("template") or {}).get("containers") or []:
            app_env.update({e.get("name"): e for e in container.get("env") or []})
        if model is None:
            adapter = (app_env.get(ftk_env.ADAPTER) or {}).get("value")
            base = (app_env.get(ftk_env.BASE_MODEL) or {}).get("value")
            model = adapter.rstrip("/").split("/")[-2] if adapter else base
        api_key = self._api_key(app_env)
        return Endpoint(url=url.rstrip("/"), api_key=api_key, ready=ready, model=model)

    def _api_key(self, app_env: Mapping[str, Any]) -> str | None:
        """The endpoint's key: the stack's secret output, else the app secret behind
        FTK_API_KEY (read through listSecrets). Never printed unless the user asks."""
        key = self.config.secret(keys.ACA_APP_API_KEY)
        if key:
            return key
        ref = (app_env.get(ftk_env.API_KEY) or {}).get("secretRef")
        if not ref:
            return None
        with azure_call(f"secrets of container app '{self.app_name}'", role=SECRET_ROLE):
            listed = self.apps.container_apps.list_secrets(
                self.resource_group, self.app_name
            ).as_dict()
        for item in listed.get("value") or []:
            if item.get("name") == ref:
                return item.get("value")
        return None


class _AzureSecrets:
    stores_values = True

    def __init__(self, target: AzureTarget):
        self._target = target

    @property
    def can_apply(self) -> bool:
        return self._target._stack is not None

    def names(self) -> list[str]:
        return self._target.list_secrets()

    def set(self, name: str, value: str, *, apply: bool = False) -> str:
        return self._target.set_secret(name, value, apply=apply)

    def remove(self, name: str, *, apply: bool = False) -> str:
        return self._target.remove_secret(name, apply=apply)

    def unavailable(self) -> list[str]:
        return []


def _aca_secret_name(name: str) -> str:
    try:
        return aca_secret_name(name)
    except ValueError:
        raise UsageError(f"invalid secret name {name!r}", hint=SECRET_NAME_RULE) from None


class _LiveSource:
    """What `live_lines` needs, over ARM (replicas, auth token) and the stream endpoint."""

    def __init__(self, target: AzureTarget):
        self.target = target
        self._token_expires = 0.0

    def execution_status(self, name: str) -> ExecutionStatus:
        return self.target.get_execution(name).status

    def _send(self, method: str, path: str, what: str) -> dict[str, Any]:
        from azure.core.rest import HttpRequest

        target = self.target
        job = target._resource_id("Microsoft.App/jobs", target.job_name)
        url = f"{target.connection.arm_endpoint}{job}{path}?api-version={STREAM_API_VERSION}"
        with azure_call(what, role=JOB_ROLE):
            response = target.apps.send_request(HttpRequest(method, url))
            if response.status_code >= 400:
                from azure.core.exceptions import (
                    ClientAuthenticationError,
                    HttpResponseError,
                    ResourceNotFoundError,
                )

                error = {404: ResourceNotFoundError, 401: ClientAuthenticationError}.get(
                    response.status_code, HttpResponseError
                )
                raise error(response=response)
            return response.json() if response.content else {}

    def log_endpoints(self, name: str) -> list[str]:
        data = self._send("GET", f"/executions/{name}/replicas", f"replicas of execution '{name}'")
        endpoints = []
        for replica in data.get("value") or []:
            for container in (replica.get("properties") or {}).get("containers") or []:
                if container.get("logStreamEndpoint"):
                    endpoints.append(container["logStreamEndpoint"])
        return endpoints

    def stream_token(self) -> str:
        data = self._send(
            "POST", "/getAuthToken", f"log stream token of job '{self.target.job_name}'"
        )
        token = (data.get("properties") or {}).get("token")
        if not token:
            raise NotFoundError("the job returned no log stream token")
        return str(token)

    def open_stream(self, url: str, token: str, *, follow: bool, tail: int) -> Iterator[str]:
        from cli.targets.azure_logs import open_http_stream

        return open_http_stream(
            url, token, follow=follow, tail=tail, verify=self.target.connection.connection_verify
        )
