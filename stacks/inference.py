"""The inference app, HTTPS only, scale to zero, running the engine `inferenceEngine` names: its
image, command, probe paths and key variables all come from its registry entry
(`contract.engines`), so this module compares no engine names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.app as app
import pulumi_random as random

from contract.commands import STARTED_PORT
from contract.engines import ServingEngine
from contract.secrets import aca_secret_name
from stacks.component import FtkComponent
from stacks.registry import RegistryPull
from stacks.settings import StartupProbe
from stacks.share_mount import ShareWorkload, share_container, share_volume

API_KEY_SECRET = "ftk-api-key"
HF_TOKEN = "HF_TOKEN"  # huggingface_hub's (and vLLM's) variable for the Hub token
HF_TOKEN_SECRET = aca_secret_name(HF_TOKEN)


@dataclass(frozen=True)
class InferenceAppArgs:
    """What the inference component needs from the stack."""

    workload: ShareWorkload
    app_name: str
    engine: ServingEngine  # contract.engines.ENGINES[inferenceEngine]
    image: pulumi.Input[str]
    port: int
    min_replicas: int
    max_replicas: int
    startup_probe: StartupProbe
    env: Mapping[str, str]  # plain env vars (FTK_BASE_MODEL, FTK_ADAPTER, PORT, ...)
    pull: RegistryPull | None = None  # the prebuilt image's registry (prebuiltImage)
    # The stack's HF_TOKEN job secret, when it has one: a model the job has not cached yet (a
    # gated one included) is downloaded by the app with it. Only by secretRef.
    hf_token: pulumi.Input[str] | None = None


class InferenceApp(FtkComponent):
    """External HTTPS ingress only; the API key is generated here and reaches the app by secretRef.

    `api_key` is a secret Output; `ftk deploy` changes FTK_ADAPTER/FTK_BASE_MODEL on a new revision.
    """

    app_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    api_key: pulumi.Output[str]  # secret

    def __init__(
        self, name: str, args: InferenceAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("InferenceApp", name, opts)
        key = random.RandomPassword(f"{name}-api-key", length=48, special=False, opts=self._child())
        self.api_key = pulumi.Output.secret(key.result)
        container_app = app.ContainerApp(
            f"{name}-app",
            container_app_name=args.app_name,
            **args.workload.placement(),
            configuration=app.ConfigurationArgs(
                active_revisions_mode=app.ActiveRevisionsMode.SINGLE,
                ingress=app.IngressArgs(
                    external=True,
                    allow_insecure=False,
                    target_port=args.port,
                    transport=app.IngressTransportMethod.AUTO,
                    traffic=[app.TrafficWeightArgs(latest_revision=True, weight=100)],
                ),
                secrets=[
                    app.SecretArgs(name=API_KEY_SECRET, value=self.api_key),
                    *(
                        [app.SecretArgs(name=HF_TOKEN_SECRET, value=args.hf_token)]
                        if args.hf_token is not None
                        else []
                    ),
                ],
                registries=args.pull.registries() if args.pull else None,
            ),
            identity=args.pull.identity() if args.pull else None,
            template=app.TemplateArgs(
                containers=[
                    share_container(
                        args.workload,
                        name=args.app_name,
                        image=args.image,
                        commands=args.engine.commands,
                        env=args.env,
                        secret_env=_secret_env(args.engine, hf_token=args.hf_token is not None),
                        probes=_probes(args),
                    )
                ],
                scale=app.ScaleArgs(min_replicas=args.min_replicas, max_replicas=args.max_replicas),
                volumes=[share_volume(args.workload)],
            ),
            opts=self._child(),
        )
        self.app_name = container_app.name
        # The configuration carries the key, so Pulumi marks it all secret; the FQDN is not.
        self.endpoint = pulumi.Output.unsecret(container_app.configuration.apply(_https_endpoint))
        self.register_outputs(
            {"app_name": self.app_name, "endpoint": self.endpoint, "api_key": self.api_key}
        )


def _secret_env(engine: ServingEngine, *, hf_token: bool) -> dict[str, str]:
    """The key by secretRef under each of the engine's key variables: FTK_API_KEY always (`ftk
    endpoint` finds the secret through it, and vLLM's `inference.vllm_app.RequireKey` checks it),
    and vLLM's own VLLM_API_KEY on the vLLM app; HF_TOKEN when the stack has one."""
    refs = {var: API_KEY_SECRET for var in engine.key_vars}
    if hf_token:
        refs[HF_TOKEN] = HF_TOKEN_SECRET
    return refs


# ACA probe limits, from the spec's ContainerAppProbe descriptions (Azure/azure-rest-api-specs
# Microsoft.App, as the SDKs carry them: "failureThreshold ... Minimum value is 1. Maximum value
# is 10", "initialDelaySeconds ... Maximum value is 60", "periodSeconds ... Maximum value is
# 240"; stacks/settings.py PROBE_MAX_*). A startup probe that waits for the model within them
# needs a long period (1800 s: 174 s), so a model loaded in 90 s would be noticed only at the
# next probe, about 234 s. Instead (health-probes.md: liveness and readiness begin once the
# startup probe has passed; MicrosoftDocs/azure-docs articles/container-apps/health-probes.md,
# ms.date 08/29/2023, read 2026-12-05):
# - startup: TCP on STARTED_PORT (contract.commands), open from the container's first second;
# - readiness: the engine's ready path every READY_PERIOD_S seconds: noticed within seconds;
# - liveness: the engine's health path with the whole start budget (`inferenceStartupSeconds`),
#   which bounds install + download + load and, later, how long a hung server lives.
STARTUP_PERIOD_S = 3  # the listener starts in well under STARTUP_PERIOD_S * 10 seconds
READY_PERIOD_S = 5


def _probes(args: InferenceAppArgs) -> list[app.ContainerAppProbeArgs]:
    budget = args.startup_probe

    def http(path: str) -> app.ContainerAppProbeHttpGetArgs:
        return app.ContainerAppProbeHttpGetArgs(path=path, port=args.port, scheme=app.Scheme.HTTP)

    return [
        app.ContainerAppProbeArgs(
            type=app.Type.STARTUP,
            tcp_socket=app.ContainerAppProbeTcpSocketArgs(port=STARTED_PORT),
            initial_delay_seconds=1,
            period_seconds=STARTUP_PERIOD_S,
            failure_threshold=10,
            timeout_seconds=2,
        ),
        app.ContainerAppProbeArgs(
            type=app.Type.READINESS,
            http_get=http(args.engine.ready_path),
            initial_delay_seconds=1,
            period_seconds=READY_PERIOD_S,
            failure_threshold=3,
            timeout_seconds=4,
        ),
        # Model download + load happen before the health path answers (vLLM listens only once
        # loaded) or before the app serves (the install): the liveness budget allows for them.
        app.ContainerAppProbeArgs(
            type=app.Type.LIVENESS,
            http_get=http(args.engine.health_path),
            initial_delay_seconds=budget.initial_delay_seconds,
            period_seconds=budget.period_seconds,
            failure_threshold=budget.failure_threshold,
            timeout_seconds=5,
        ),
    ]


def _https_endpoint(configuration: object) -> str:
    ingress = getattr(configuration, "ingress", None)
    fqdn = getattr(ingress, "fqdn", None)
    return f"https://{fqdn}" if fqdn else ""
