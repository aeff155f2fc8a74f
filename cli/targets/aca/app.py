"""The inference Container App: point it at a run's adapter, read its endpoint and API key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cli.errors import NotFoundError, UsageError
from cli.targets.aca.resources import Deployment
from cli.targets.azure.errors import azure_call
from cli.targets.base import Endpoint
from contract import engines
from contract import env as ftk_env
from contract import outputs as keys
from contract.adapters import adapter_names, adapter_value
from contract.layout import RunLayout

APP_ROLE = "Container Apps Contributor"


class InferenceApp:
    def __init__(self, deployment: Deployment):
        self.deployment = deployment

    def deploy(
        self, run_id: str | None, *, base_model: str | None, more_runs: Sequence[str] = ()
    ) -> Endpoint:
        from cli.targets.aca.deploy import update_app_env, wait_ready

        d = self.deployment
        runs = [run_id, *more_runs] if run_id else []
        # Each run's adapter folder under its run id, the model name decided here once:
        # `RUN=PATH,...` (contract.adapters), which every engine serves as named.
        adapter = adapter_value((r, RunLayout(r, root=d.mount_path).adapter) for r in runs)
        changes: dict[str, str | None] = {ftk_env.ADAPTER: adapter}
        if base_model:
            changes[ftk_env.BASE_MODEL] = base_model
        update_app_env(d.apps, d.resource_group, d.app_name, changes)
        app = wait_ready(
            d.apps,
            d.resource_group,
            d.app_name,
            timeout=d.connection.deploy_timeout,
            interval=d.connection.polling_interval,
        )
        return self._endpoint_of(app, ready=True, model=run_id or base_model)

    def endpoint(self) -> Endpoint:
        d = self.deployment
        with azure_call(f"container app '{d.app_name}'", role=APP_ROLE):
            app = d.apps.container_apps.get(d.resource_group, d.app_name).as_dict()
        props = app.get("properties") or {}
        latest = props.get("latestRevisionName")
        ready = bool(latest) and latest == props.get("latestReadyRevisionName")
        return self._endpoint_of(app, ready=ready, model=None)

    def _endpoint_of(self, app: Mapping[str, Any], *, ready: bool, model: str | None) -> Endpoint:
        d = self.deployment
        props = app.get("properties") or {}
        fqdn = ((props.get("configuration") or {}).get("ingress") or {}).get("fqdn")
        url = f"https://{fqdn}" if fqdn else d.config.get(keys.ACA_APP_ENDPOINT)
        if not url:
            raise NotFoundError(
                f"container app '{d.app_name}' has no ingress",
                hint="enable external ingress on the app (the stack does), or set ACA_APP_ENDPOINT",
            )
        app_env = {}
        for container in (props.get("template") or {}).get("containers") or []:
            app_env.update({e.get("name"): e for e in container.get("env") or []})
        adapters = adapter_names((app_env.get(ftk_env.ADAPTER) or {}).get("value"))
        if model is None:
            base = (app_env.get(ftk_env.BASE_MODEL) or {}).get("value")
            model = adapters[0] if adapters else base
        api_key, why = self._api_key(app_env)
        return Endpoint(
            url=url.rstrip("/"),
            api_key=api_key,
            ready=ready,
            model=model,
            adapters=adapters,
            no_key_reason=why,
            ready_path=self._engine().ready_path,
        )

    def _engine(self) -> engines.ServingEngine:
        """The engine the app runs: the stack's INFERENCE_ENGINE output; ftk's own server where
        none is given (`--infra` files, a stack from before the output)."""
        name = self.deployment.config.get(keys.INFERENCE_ENGINE)
        try:
            return engines.engine(name)
        except ValueError as exc:
            raise UsageError(
                f"{self.deployment.config.origin}: {exc}",
                hint="a newer ftk made this stack: upgrade ftk",
            ) from None

    def _api_key(self, app_env: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(the endpoint's key, or None and why): the stack's secret output, else the app secret
        behind FTK_API_KEY (read through listSecrets). Never printed unless the user asks."""
        d = self.deployment
        key = d.config.secret(keys.ACA_APP_API_KEY)
        if key:
            return key, None
        app = f"container app '{d.app_name}'"
        ref = (app_env.get(ftk_env.API_KEY) or {}).get("secretRef")
        if not ref:
            return None, (
                f"{d.config.origin} has no {keys.ACA_APP_API_KEY} and {app} has no "
                f"{ftk_env.API_KEY} secret reference"
            )
        with azure_call(f"secrets of {app}", role=APP_ROLE):
            listed = d.apps.container_apps.list_secrets(d.resource_group, d.app_name).as_dict()
        for item in listed.get("value") or []:
            if item.get("name") == ref and item.get("value"):
                return str(item["value"]), None
        return None, f"{app} has no secret '{ref}' (its {ftk_env.API_KEY} refers to it)"
