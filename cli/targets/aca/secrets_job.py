"""Job secrets kept on the ACA job itself (an --infra job): set and removed through ARM.

Each secret is an ACA secret (`contract.secrets.aca_secret_name`) plus an env entry with a
`secretRef` on every container; the next execution sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cli.errors import NotFoundError, UsageError
from cli.targets.aca.resources import Deployment
from cli.targets.azure.errors import azure_call
from contract.secrets import RULE, aca_secret_name

SECRET_ROLE = "Container Apps Contributor"
Change = Callable[[list[dict[str, Any]], list[dict[str, Any]]], None]


def checked_aca_name(name: str) -> str:
    try:
        return aca_secret_name(name)
    except ValueError:
        raise UsageError(f"invalid secret name {name!r}", hint=RULE) from None


def job_secret_env_names(deployment: Deployment) -> set[str]:
    """Env var names the job's containers take from secrets."""
    names: set[str] = set()
    template = (deployment.get_job().get("properties") or {}).get("template") or {}
    for container in template.get("containers") or []:
        names.update(e["name"] for e in container.get("env") or [] if e.get("secretRef"))
    return names


class JobSecretStore:
    """`SecretStore` over the job's ARM resource."""

    stores_values = True
    can_apply = False

    def __init__(self, deployment: Deployment):
        self.deployment = deployment

    def names(self) -> list[str]:
        return sorted(job_secret_env_names(self.deployment))

    def set(self, name: str, value: str, *, apply: bool = False) -> str:
        secret = checked_aca_name(name)

        def change(secrets: list[dict[str, Any]], containers: list[dict[str, Any]]) -> None:
            secrets[:] = [s for s in secrets if s.get("name") != secret]
            secrets.append({"name": secret, "value": value})
            for container in containers:
                kept = [e for e in container.get("env") or [] if e.get("name") != name]
                container["env"] = [*kept, {"name": name, "secretRef": secret}]

        self._patch(change)
        return (
            f"set {name} on job '{self.deployment.job_name}' (ACA secret '{secret}'); "
            "the next execution sees it"
        )

    def remove(self, name: str, *, apply: bool = False) -> str:
        secret = checked_aca_name(name)
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

        self._patch(change, found=found, missing=name)
        return f"removed {name} (ACA secret '{secret}') from job '{self.deployment.job_name}'"

    def unavailable(self) -> list[str]:
        return []

    def _patch(self, change: Change, *, found: list[bool] | None = None, missing: str = "") -> None:
        """Read the job and its secret values, let `change` edit them, write both back."""
        d = self.deployment
        props = d.get_job().get("properties") or {}
        configuration = dict(props.get("configuration") or {})
        template = props.get("template") or {}
        with azure_call(f"secrets of {d.job_label()}", role=SECRET_ROLE):
            listed = d.apps.jobs.list_secrets(d.resource_group, d.job_name).as_dict()
        secrets = [dict(s) for s in listed.get("value") or []]
        change(secrets, template.get("containers") or [])
        if found is not None and not any(found):
            raise NotFoundError(f"job '{d.job_name}' has no secret {missing}")
        configuration["secrets"] = secrets
        body = {"properties": {"configuration": configuration, "template": template}}
        with azure_call(d.job_label(), role=SECRET_ROLE):
            d.apps.jobs.begin_update(d.resource_group, d.job_name, body).result()
