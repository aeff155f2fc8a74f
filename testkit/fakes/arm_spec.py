"""Which Microsoft.App operation an ARM request is, and the spec definitions of its body and
answer, so the fake ARM checks both against testkit/fakes/specs (see SOURCES.md there).

Operation ids, bodies and answers are those of Azure/azure-rest-api-specs
specification/app/resource-manager/Microsoft.App/ContainerApps/stable/2026-07-01/openapi.json.
Two routes ftk uses are in no stable spec: a job execution's `replicas` and the job's
`getAuthToken` (the log-stream token). `az containerapp job logs show` calls them with the preview
api-version it pins for them; the fake accepts exactly that one (`PREVIEW_API_VERSION`) and checks
no body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from testkit.fakes.openapi import API_VERSION

# The preview api-version az sends to the two routes no stable spec has:
# Azure/azure-cli-extensions src/containerapp/azext_containerapp/_clients.py,
# `ContainerAppsJobPreviewClient.LOG_STREAM_API_VERSION = "2023-11-02-preview"`, which az pins for
# exactly these two calls (`get_replicas`, `get_auth_token`) while the class's other calls use
# PREVIEW_API_VERSION (2025-02-02-preview in the copy read 2026-12-05).
PREVIEW_API_VERSION = "2023-11-02-preview"


@dataclass(frozen=True)
class Operation:
    operation_id: str
    api_version: str
    body: str | None = None  # definition of the request body
    answer: str | None = None  # definition of a 200 answer
    partial: bool = False  # PATCH: the body is a partial resource (root `required` not checked)


_JOB_EXECUTION = re.compile(r"^/executions/[^/]+$")
_JOB_EXECUTION_STOP = re.compile(r"^/executions/[^/]+/stop$")
_JOB_REPLICAS = re.compile(r"^/executions/[^/]+/replicas$")
_REVISION = re.compile(r"^/revisions/[^/]+$")


def operation(method: str, kind: str, rest: str) -> Operation | None:
    """The Microsoft.App operation of `METHOD .../{kind}/{name}{rest}`; None: not one we know."""
    if kind == "jobs":
        if rest == "" and method == "GET":
            return Operation("Jobs_Get", API_VERSION, answer="Job")
        if rest == "" and method == "PATCH":
            return Operation(
                "Jobs_Update", API_VERSION, body="JobPatchProperties", answer="Job", partial=True
            )
        if rest == "/start" and method == "POST":
            return Operation(
                "Jobs_Start", API_VERSION, body="JobExecutionTemplate", answer="JobExecutionBase"
            )
        if rest == "/listSecrets" and method == "POST":
            return Operation("Jobs_ListSecrets", API_VERSION, answer="JobSecretsCollection")
        if rest == "/executions" and method == "GET":
            return Operation("JobsExecutions_List", API_VERSION, answer="ContainerAppJobExecutions")
        if _JOB_EXECUTION.match(rest) and method == "GET":
            return Operation("JobExecution", API_VERSION, answer="JobExecution")
        if _JOB_EXECUTION_STOP.match(rest) and method == "POST":
            return Operation("Jobs_StopExecution", API_VERSION)
        if _JOB_REPLICAS.match(rest) and method == "GET":
            return Operation("(preview) job execution replicas", PREVIEW_API_VERSION)
        if rest == "/getAuthToken" and method == "POST":
            return Operation("(preview) job getAuthToken", PREVIEW_API_VERSION)
    if kind == "containerApps":
        if rest == "" and method == "GET":
            return Operation("ContainerApps_Get", API_VERSION, answer="ContainerApp")
        if rest == "" and method == "PATCH":
            return Operation(
                "ContainerApps_Update",
                API_VERSION,
                body="ContainerApp",
                answer="ContainerApp",
                partial=True,
            )
        if rest == "/listSecrets" and method == "POST":
            return Operation("ContainerApps_ListSecrets", API_VERSION, answer="SecretsCollection")
        if _REVISION.match(rest) and method == "GET":
            # Revision is not among the vendored definitions: its answer is not checked.
            return Operation("ContainerAppsRevisions_GetRevision", API_VERSION)
    return None
