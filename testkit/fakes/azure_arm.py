"""The ARM subset ftk uses (Container Apps jobs and apps, storage keys), the job log stream and
the Log Analytics query API, in memory. Bearer tokens are checked on every ARM request."""

from __future__ import annotations

import copy
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from testkit.fakes.arm_spec import operation
from testkit.fakes.http import DropConnection, Request, Response
from testkit.fakes.log_analytics import evaluate_query
from testkit.fakes.openapi import validate

ARM_TOKEN = "fake-arm-token"
_ARM = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"(?P<ns>Microsoft\.App|Microsoft\.Storage)/(?P<kind>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)?$"
)


# The job log stream as `az containerapp job logs show` addresses it, on the host of the job's
# eventStreamEndpoint (Azure/azure-cli-extensions src/containerapp/azext_containerapp/custom.py,
# `stream_job_logs`, commit 004c93f871b6). No spec documents this route or its answers: the fake
# follows az (Bearer token from getAuthToken; follow, output, tailLines parameters; tailLines
# 0-300, which az checks before calling).
_JOB_LOG_STREAM = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/jobs/(?P<job>[^/]+)"
    r"/executions/(?P<execution>[^/]+)/replicas/(?P<replica>[^/]+)/containers/(?P<c>[^/]+)"
    r"/logstream$"
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _not_found(what: str) -> Response:
    return Response.json(
        404,
        {"error": {"code": "ResourceNotFound", "message": f"The Resource '{what}' was not found."}},
    )


@dataclass
class FakeExecution:
    name: str
    template: dict[str, Any]  # the effective template the execution runs with (see `_start`)
    status: str = "Running"
    lines: list[str] = field(default_factory=list)  # console lines, as the container printed
    queued_polls: int = 0  # answer "Processing" (no replica yet) to this many GETs first
    finish_when_drained: str | None = "Succeeded"  # the log stream ends the execution so
    start_time: str = field(default_factory=_now)
    end_time: str | None = None
    replica_started: bool = False  # `FakeArm.on_replica_start` ran for it

    def mounted(self, path: str) -> bool:
        """Whether the execution's container has a volume (of its template) at `path`."""
        volumes = {v.get("name") for v in self.template.get("volumes") or []}
        return any(
            m.get("mountPath") == path and m.get("volumeName") in volumes
            for c in self.template.get("containers") or []
            for m in c.get("volumeMounts") or []
        )

    def env(self, name: str) -> str | None:
        for container in self.template.get("containers", []):
            for var in container.get("env", []):
                if var.get("name") == name:
                    return var.get("value")
        return None


class FakeArm:
    """State of one subscription/resource group: a job, an app, a storage account."""

    def __init__(self, *, sub: str, rg: str, job: str, app: str, account: str, url: str):
        self.sub, self.rg, self.job_name, self.app_name, self.account = sub, rg, job, app, account
        self.url = url
        self.rg_id = f"/subscriptions/{sub}/resourceGroups/{rg}"
        self.lock = threading.Lock()
        self.auth = "ok"  # "ok" | "expired" (401) | "forbidden" (403 on everything)
        self.deny: set[str] = set()  # path fragments that answer 403 (missing role)
        self.jobs: dict[str, dict[str, Any]] = {job: _job_json(self, job)}
        self.job_secrets: dict[str, str] = {"hf-token": "hf_fake_value"}
        self.executions: list[FakeExecution] = []
        self.apps: dict[str, dict[str, Any]] = {app: _app_json(self, app)}
        self.app_secrets: dict[str, str] = {"api-key": "sk-fake-endpoint-key"}
        self.revisions: dict[str, dict[str, Any]] = {f"{app}--r1": {"ready_in": 0}}
        self.revision_ready_polls = 2  # app GETs before a new revision turns ready
        self.revision_fails = False
        self.account_key = "ZmFrZS1hY2NvdW50LWtleS1mb3ItdGVzdHMtb25seQ=="
        self.stream_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.stream_plan: list[dict[str, Any]] = []  # per log-stream connection: what goes wrong
        self.stream_connections = 0
        self.job_event_stream = True  # False: the job has no eventStreamEndpoint (fallback)
        self.log_rows: dict[str, list[dict[str, Any]]] = {
            "ContainerAppConsoleLogs_CL": [],
            "ContainerAppSystemLogs_CL": [],
        }
        self.queries: list[str] = []
        self.on_list_keys: list[str] = []  # the keys handed out (the Files fake accepts them)
        self.spec_violations: list[str] = []  # requests (or answers) the spec does not allow
        self.extra: Callable[[Request], Response | None] | None = None  # more routes (doctor)
        # Plays an execution's replica (its container's first steps) the first time the
        # execution is looked at while it runs: a test sets it to run the job's own code.
        self.on_replica_start: Callable[[FakeExecution], None] | None = None

    # -- helpers for tests ------------------------------------------------------------------

    def add_execution(self, name: str, run_id: str, **kwargs: Any) -> FakeExecution:
        template = {
            "containers": [{"name": "finetune", "env": [{"name": "FTK_RUN_ID", "value": run_id}]}]
        }
        execution = FakeExecution(name=name, template=template, **kwargs)
        self.executions.append(execution)
        return execution

    def execution(self, name: str) -> FakeExecution:
        return next(e for e in self.executions if e.name == name)

    def start_execution(self, template: dict[str, Any] | None = None) -> FakeExecution:
        """What POST .../start does: an execution of the job's own template (or of `template`),
        as the portal or `az containerapp job start` make one without ftk."""
        job = self.jobs[self.job_name]
        execution = FakeExecution(
            name=f"{self.job_name}-{uuid.uuid4().hex[:7]}",
            template=copy.deepcopy(template or job["properties"]["template"]),
        )
        self.executions.append(execution)
        return execution

    def _replica_starts(self, execution: FakeExecution) -> None:
        if execution.replica_started or self.on_replica_start is None:
            return
        if execution.queued_polls > 0 or execution.status != "Running":
            return
        execution.replica_started = True
        self.on_replica_start(execution)

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/logstream/"):  # a replica's own logStreamEndpoint
            return self._log_stream(req, req.path.rstrip("/").split("/")[3])
        if found := _JOB_LOG_STREAM.match(req.path):
            if (found["sub"], found["rg"], found["job"]) != (self.sub, self.rg, self.job_name):
                return Response(404, b"no such job")
            return self._log_stream(req, found["execution"])
        if req.path.startswith("/v1/"):
            return self._logs_query(req)
        if req.headers.get("authorization") != f"Bearer {ARM_TOKEN}":
            return Response.json(
                401, {"error": {"code": "InvalidAuthenticationToken", "message": "no token"}}
            )
        if self.auth == "expired":
            return Response.json(
                401,
                {
                    "error": {
                        "code": "ExpiredAuthenticationToken",
                        "message": "The access token expiry has passed.",
                    }
                },
            )
        if self.auth == "forbidden" or any(fragment in req.path for fragment in self.deny):
            return Response.json(
                403,
                {
                    "error": {
                        "code": "AuthorizationFailed",
                        "message": "The client does not have authorization to perform action.",
                    }
                },
            )
        if self.extra is not None and (answer := self.extra(req)) is not None:
            return answer
        match = _ARM.match(req.path)
        if not match or match["sub"] != self.sub or match["rg"] != self.rg:
            return _not_found(req.path)
        with self.lock:
            if match["ns"] == "Microsoft.App":
                return self._checked(req, match["kind"], match["name"], match["rest"] or "")
            if match["kind"] == "storageAccounts" and match["rest"] == "/listKeys":
                if match["name"] != self.account:
                    return _not_found(f"Microsoft.Storage/storageAccounts/{match['name']}")
                self.on_list_keys.append(self.account_key)
                return Response.json(
                    200,
                    {
                        "keys": [
                            {"keyName": "key1", "value": self.account_key, "permissions": "FULL"}
                        ]
                    },
                )
        return _not_found(req.path)

    # -- the spec -------------------------------------------------------------------------

    def _checked(self, req: Request, kind: str, name: str, rest: str) -> Response:
        """Serve a Microsoft.App request whose body and answer follow the vendored spec: a body
        with a property the spec lacks is refused (400) and recorded in `spec_violations`, so
        the test fails even when the CLI would swallow the error; so is an answer of ours that
        strays from the spec (500)."""
        op = operation(req.method, kind, rest)
        if op is None:
            self.spec_violations.append(f"{req.method} {req.path}: no such Microsoft.App operation")
            return _not_found(req.path)
        if req.query.get("api-version") != op.api_version:
            problem = f"{op.operation_id}: api-version {req.query.get('api-version')!r}"
            self.spec_violations.append(f"{problem}, the fake speaks {op.api_version}")
            return Response.json(
                400, {"error": {"code": "InvalidApiVersionParameter", "message": problem}}
            )
        if op.body is not None and req.body:
            errors = validate(req.json(), op.body, check_required=not op.partial)
            if errors:
                self.spec_violations += [f"{op.operation_id} body: {e}" for e in errors]
                return Response.json(
                    400,
                    {"error": {"code": "InvalidRequestContent", "message": "; ".join(errors)}},
                )
        response = (self._job if kind == "jobs" else self._app)(req, name, rest)
        if op.answer is not None and response.status == 200 and response.body:
            import json

            errors = validate(json.loads(response.body), op.answer, check_enum=True)
            if errors:
                self.spec_violations += [f"{op.operation_id} answer: {e}" for e in errors]
                return Response.json(
                    500, {"error": {"code": "FakeStrayed", "message": str(errors)}}
                )
        return response

    # -- jobs -------------------------------------------------------------------------------

    def _job(self, req: Request, name: str, rest: str) -> Response:
        job = self.jobs.get(name)
        if job is None:
            return _not_found(f"Microsoft.App/jobs/{name}")
        if rest == "" and req.method == "GET":
            answer = copy.deepcopy(job)
            if self.job_event_stream:
                # Shaped as public examples show it; az uses only what precedes /subscriptions/.
                answer["properties"]["eventStreamEndpoint"] = (
                    f"{self.url}/subscriptions/{self.sub}/resourceGroups/{self.rg}"
                    f"/containerApps/{name}/eventstream"
                )
            return Response.json(200, answer)
        if rest == "" and req.method == "PATCH":
            props = req.json().get("properties", {})
            config = props.get("configuration")
            if config is not None:
                if "secrets" in config:
                    secrets = config["secrets"] or []
                    missing = [s["name"] for s in secrets if s.get("value") is None]
                    if missing:
                        return Response.json(
                            400,
                            {
                                "error": {
                                    "code": "ContainerAppSecretInvalid",
                                    "message": f"secret {missing[0]} has no value",
                                }
                            },
                        )
                    self.job_secrets = {s["name"]: s["value"] for s in secrets}
                    config = {**config, "secrets": [{"name": s["name"]} for s in secrets]}
                job["properties"]["configuration"].update(config)
            if "template" in props:
                job["properties"]["template"] = props["template"]
            return Response.json(200, job)
        if rest == "/listSecrets" and req.method == "POST":
            return Response.json(
                200, {"value": [{"name": k, "value": v} for k, v in self.job_secrets.items()]}
            )
        if rest == "/start" and req.method == "POST":
            execution = self.start_execution(_effective_template(job, req))
            return Response.json(200, {"name": execution.name, "id": self._execution_id(execution)})
        if rest == "/getAuthToken" and req.method == "POST":
            token = f"stream-{uuid.uuid4().hex[:8]}"
            expires = time.time() + 3600
            self.stream_tokens[token] = expires
            return Response.json(
                200,
                {
                    "properties": {
                        "token": token,
                        "expires": datetime.fromtimestamp(expires, UTC).isoformat(),
                    }
                },
            )
        if rest == "/executions" and req.method == "GET":
            return Response.json(
                200, {"value": [self._execution_json(e) for e in reversed(self.executions)]}
            )
        found = re.match(r"^/executions/([^/]+)(/.*)?$", rest)
        if found:
            try:
                execution = self.execution(found[1])
            except StopIteration:
                return _not_found(f"Microsoft.App/jobs/{name}/executions/{found[1]}")
            sub = found[2] or ""
            if sub == "" and req.method == "GET":
                answer = self._execution_json(execution, poll=True)
                self._replica_starts(execution)
                return Response.json(200, answer)
            if sub == "/stop" and req.method == "POST":
                if execution.status in ("Running", "Processing"):
                    execution.status, execution.end_time = "Stopped", _now()
                return Response(200)
            if sub == "/replicas" and req.method == "GET":
                self._replica_starts(execution)
                return Response.json(200, {"value": self._replicas(execution)})
        return _not_found(req.path)

    def _execution_id(self, execution: FakeExecution) -> str:
        return (
            f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/Microsoft.App/jobs/"
            f"{self.job_name}/executions/{execution.name}"
        )

    def _execution_json(self, execution: FakeExecution, poll: bool = False) -> dict[str, Any]:
        status = execution.status
        if execution.queued_polls > 0:
            status = "Processing"
            if poll:
                execution.queued_polls -= 1
        return {
            "id": self._execution_id(execution),
            "name": execution.name,
            "type": "Microsoft.App/jobs/executions",
            "properties": {
                "status": status,
                "startTime": execution.start_time,
                "endTime": execution.end_time,
                "template": _execution_template(execution.template),
            },
        }

    def _replicas(self, execution: FakeExecution) -> list[dict[str, Any]]:
        if execution.queued_polls > 0 or execution.status != "Running":
            return []
        endpoint = f"{self.url}/logstream/{self.job_name}/{execution.name}/finetune"
        return [
            {
                "name": f"{execution.name}-replica",
                "properties": {
                    "containers": [
                        {
                            "name": "finetune",
                            "runningState": "Running",
                            "logStreamEndpoint": endpoint,
                        }
                    ]
                },
            }
        ]

    # -- live log stream --------------------------------------------------------------------

    def _log_stream(self, req: Request, name: str) -> Response:
        token = req.headers.get("authorization", "").removeprefix("Bearer ")
        plan = self.stream_plan.pop(0) if self.stream_plan else {}
        self.stream_connections += 1
        if plan.get("expire_token"):
            self.stream_tokens.pop(token, None)
        if self.stream_tokens.get(token, 0) < time.time():
            return Response(401, b"token expired", {"Content-Type": "text/plain"})
        try:
            execution = self.execution(name)
        except StopIteration:
            return Response(404, b"no such replica")
        tail = int(req.query.get("tailLines", "0") or 0)
        if not 0 <= tail <= 300:
            self.spec_violations.append(f"log stream: tailLines={tail} (az allows 0-300)")
            return Response(400, b"tailLines must be between 0 and 300")
        follow = req.query.get("follow", "false") == "true"
        drop_after = plan.get("drop_after")
        return Response(
            200,
            headers={"Content-Type": "text/plain"},
            stream=self._lines(execution, tail, follow, drop_after),
        )

    def _lines(
        self, execution: FakeExecution, tail: int, follow: bool, drop_after: int | None
    ) -> Iterator[bytes]:
        import json

        base = datetime(2026, 1, 1, tzinfo=UTC)
        start = max(0, len(execution.lines) - tail) if tail else 0
        sent = 0
        index = start
        while True:
            while index < len(execution.lines):
                if drop_after is not None and sent >= drop_after:
                    raise DropConnection
                stamp = (base + timedelta(seconds=index)).isoformat()
                record = {"TimeStamp": stamp, "Log": execution.lines[index]}
                yield (json.dumps(record) + "\n").encode()
                index += 1
                sent += 1
            if not follow or execution.status != "Running":
                return
            if execution.finish_when_drained:
                execution.status, execution.end_time = execution.finish_when_drained, _now()
                return
            time.sleep(0.01)

    # -- Log Analytics ----------------------------------------------------------------------

    def _logs_query(self, req: Request) -> Response:
        """The Log Analytics query API, for the query shapes ftk sends and nothing else: a
        query of another shape is refused (400) and recorded in `spec_violations`, so a drift
        in ftk's KQL fails a test instead of meeting a real workspace first. Rows hold only
        the documented columns (`LOG_COLUMNS`)."""
        if req.headers.get("authorization") != f"Bearer {ARM_TOKEN}":
            return Response.json(
                401, {"error": {"code": "InvalidAuthenticationToken", "message": "no token"}}
            )
        query = req.json().get("query", "")
        self.queries.append(query)
        found = evaluate_query(query, self.log_rows)
        if isinstance(found, str):
            self.spec_violations.append(f"Log Analytics: {found}")
            return Response.json(400, {"error": {"code": "BadArgumentError", "message": found}})
        columns = [
            {"name": "TimeGenerated", "type": "datetime"},
            {"name": "Log_s", "type": "string"},
        ]
        rows = [[row["TimeGenerated"], row["Log_s"]] for row in found]
        return Response.json(
            200, {"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]}
        )

    # -- container apps ---------------------------------------------------------------------

    def _app(self, req: Request, name: str, rest: str) -> Response:
        app = self.apps.get(name)
        if app is None:
            return _not_found(f"Microsoft.App/containerApps/{name}")
        props = app["properties"]
        if rest == "" and req.method == "GET":
            latest = props["latestRevisionName"]
            state = self.revisions[latest]
            if not self.revision_fails and state["ready_in"] > 0:
                state["ready_in"] -= 1
            if not self.revision_fails and state["ready_in"] == 0:
                props["latestReadyRevisionName"] = latest
            return Response.json(200, app)
        if rest == "" and req.method == "PATCH":
            template = req.json().get("properties", {}).get("template")
            if template is not None:
                props["template"] = template
                number = len(self.revisions) + 1
                revision = f"{name}--r{number}"
                self.revisions[revision] = {"ready_in": self.revision_ready_polls}
                props["latestRevisionName"] = revision
            return Response.json(200, app)
        if rest == "/listSecrets" and req.method == "POST":
            return Response.json(
                200, {"value": [{"name": k, "value": v} for k, v in self.app_secrets.items()]}
            )
        found = re.match(r"^/revisions/([^/]+)$", rest)
        if found and req.method == "GET":
            asked = self.revisions.get(found[1])
            if asked is None:
                return _not_found(f"revision {found[1]}")
            provisioning = (
                "Failed"
                if self.revision_fails
                else ("Provisioned" if asked["ready_in"] == 0 else "Provisioning")
            )
            return Response.json(
                200,
                {
                    "name": found[1],
                    "properties": {
                        "provisioningState": provisioning,
                        "provisioningError": "container exited with code 1"
                        if self.revision_fails
                        else None,
                        "healthState": "Unhealthy" if self.revision_fails else "Healthy",
                        "runningState": "Failed" if self.revision_fails else "Running",
                    },
                },
            )
        return _not_found(req.path)


def _effective_template(job: dict[str, Any], req: Request) -> dict[str, Any]:
    """What an execution runs with. A start request's template replaces the job's *entire*
    template (MicrosoftDocs/azure-docs articles/container-apps/jobs.md, as quoted publicly: "the
    job's entire template configuration is replaced"; see docs/azure.md), and the spec's
    JobExecutionTemplate / JobExecutionContainer have no volumes or volumeMounts
    (Azure/azure-rest-api-specs, Microsoft.App stable/2026-07-01; microsoft/azure-container-apps
    #909 asks for inheritance and is open). So an override runs with its own containers only:
    no volumes, no mounts, secret refs as given. Without a body the job's template runs as it
    is."""
    override = req.json() if req.body else None
    if not override:
        return copy.deepcopy(job["properties"]["template"])
    return {
        "containers": copy.deepcopy(override.get("containers") or []),
        "initContainers": copy.deepcopy(override.get("initContainers") or []),
    }


_EXECUTION_CONTAINER_KEYS = ("image", "name", "command", "args", "env", "resources")


def _execution_template(template: dict[str, Any]) -> dict[str, Any]:
    """An effective template as the spec's JobExecutionTemplate reports it."""

    def shape(containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: c[k] for k in _EXECUTION_CONTAINER_KEYS if k in c} for c in containers]

    out = {"containers": shape(template.get("containers") or [])}
    if template.get("initContainers"):
        out["initContainers"] = shape(template["initContainers"])
    return out


def _job_json(arm: FakeArm, name: str) -> dict[str, Any]:
    return {
        "id": f"{arm.rg_id}/providers/Microsoft.App/jobs/{name}",
        "name": name,
        "type": "Microsoft.App/jobs",
        "location": "swedencentral",
        "properties": {
            "provisioningState": "Succeeded",
            "configuration": {
                "triggerType": "Manual",
                "replicaTimeout": 14400,
                "replicaRetryLimit": 0,
                "manualTriggerConfig": {"parallelism": 1, "replicaCompletionCount": 1},
                "secrets": [{"name": "hf-token"}],
            },
            "template": {
                "containers": [
                    {
                        "name": "finetune",
                        "image": "mcr.microsoft.com/azureml/curated/acft-hf-nlp-gpu:latest",
                        "command": [
                            "bash",
                            "-c",
                            "python -m training --config runs/$FTK_RUN_ID/config.yaml",
                        ],
                        "resources": {"cpu": 24.0, "memory": "220Gi"},
                        "env": [
                            {"name": "MOUNT_PATH", "value": "/mount"},
                            {"name": "HF_TOKEN", "secretRef": "hf-token"},
                        ],
                        "volumeMounts": [{"volumeName": "share", "mountPath": "/mount"}],
                    }
                ],
                "volumes": [{"name": "share", "storageType": "AzureFile", "storageName": "share"}],
            },
        },
    }


def _app_json(arm: FakeArm, name: str) -> dict[str, Any]:
    return {
        "id": f"{arm.rg_id}/providers/Microsoft.App/containerApps/{name}",
        "name": name,
        "type": "Microsoft.App/containerApps",
        "location": "swedencentral",
        "properties": {
            "provisioningState": "Succeeded",
            "latestRevisionName": f"{name}--r1",
            "latestReadyRevisionName": f"{name}--r1",
            "configuration": {
                "ingress": {
                    "fqdn": f"{name}.fake.azurecontainerapps.io",
                    "external": True,
                    "targetPort": 8000,
                },
                "secrets": [{"name": "api-key"}],
            },
            "template": {
                "containers": [
                    {
                        "name": "inference",
                        "image": "mcr.microsoft.com/azureml/curated/acft-hf-nlp-gpu:latest",
                        "resources": {"cpu": 24.0, "memory": "220Gi"},
                        "env": [
                            {"name": "FTK_API_KEY", "secretRef": "api-key"},
                            {"name": "FTK_BASE_MODEL", "value": "microsoft/Phi-3-mini-4k-instruct"},
                        ],
                    }
                ]
            },
        },
    }
