"""The optional prebuilt image (`prebuiltImage: true`): a registry, an image with the locks'
dependencies baked in, and the identity the job and the app pull it with.

- `Registry` (Basic, admin user off): no password exists to leak.
- `TaskRun` with a `DockerBuildRequest`: ACR builds `Dockerfile` from `prebuiltImageSource`, a
  remote context such as `https://github.com/you/ftk.git#main` ("You must specify a remote context
  such as a GitHub repo as the source location for your task run. You can't use a local source
  context.": MicrosoftDocs/azure-docs articles/container-registry/container-registry-task-run-
  template.md, ms.date 04/22/2020, commit 1f820580, read 2026-12-01). The tag is a hash of the two
  lock files, so a changed lock builds a new image and `forceUpdateTag` re-queues the run.
- A user-assigned identity with `AcrPull` on the registry; the job and the app name it in
  `registries[].identity` and carry it as a user-assigned identity ("You can pull images from
  private repositories in Microsoft Azure Container Registry using managed identities for
  authentication to avoid the use of administrative credentials": MicrosoftDocs/azure-docs
  articles/container-apps/managed-identity-image-pull.md, ms.date 09/16/2022, commit 006a451a,
  read 2026-12-01). AcrPull's role definition id is 7f951dda-4ed3-4680-a7ca-43fe172d538d
  (MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles/containers.md,
  commit c0b7e64c, read 2026-12-01).

The baked sets live in the image under `PREBUILT_ENVS_ROOT`; the bootstrap uses one when its name
(lock hash, Python, machine) matches, else falls back to the share, so a stale image is slow,
never wrong.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pulumi
import pulumi_azure_native.app as app
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerregistry as containerregistry
import pulumi_azure_native.managedidentity as managedidentity

from contract.commands import SERVE_LOCK, TRAIN_LOCK
from stacks.component import FtkComponent

ACR_PULL_ROLE: Final = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
REPOSITORY: Final = "ftk"
DOCKERFILE: Final = "Dockerfile"
ROOT: Final = Path(__file__).resolve().parents[1]
# "When you assign roles or remove role assignments, it can take up to 10 minutes for changes to
# take effect" (MicrosoftDocs/azure-docs articles/role-based-access-control/troubleshooting.md,
# "Symptom - Role assignment changes are not being detected", read 2026-12-05; older copies of
# the page said 30 minutes). ACA checks a revision's image with its registry identity when it
# creates the revision, so the job and the app name the image only once the AcrPull grant is
# this old: the build starts after the grant (its minutes count), and a first `pulumi up` waits
# out the rest; later runs, with the grant long made, do not wait.
ROLE_PROPAGATION_S: Final = 600


def propagation_wait(created_on: str | None, now: datetime) -> float:
    """Seconds still to wait before a role assignment created at `created_on` (ARM's
    `createdOn`, ISO 8601) is sure to have taken effect; 0 when unknown or long past."""
    if not created_on:
        return 0.0
    try:
        created = datetime.fromisoformat(created_on.replace("Z", "+00:00"))
    except ValueError:
        return float(ROLE_PROPAGATION_S)  # a grant of unknown age: assume it is new
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return max(ROLE_PROPAGATION_S - (now - created).total_seconds(), 0.0)


async def _once_granted(image: str, created_on: str | None) -> str:
    wait = propagation_wait(created_on, datetime.now(UTC))
    if wait > 0:
        pulumi.log.info(
            f"waiting {wait:.0f} s for the new AcrPull grant to take effect (Azure: up to "
            f"{ROLE_PROPAGATION_S // 60} minutes) before the job and the app name the image"
        )
        await _sleep(wait)
    return image


_sleep = asyncio.sleep  # tests record it instead


def image_tag(root: Path = ROOT) -> str:
    """`deps-<16 hex>` of the two lock files: the image holds exactly these."""
    digest = hashlib.sha256()
    for name in (TRAIN_LOCK, SERVE_LOCK):
        digest.update((root / name).read_bytes())
    return f"deps-{digest.hexdigest()[:16]}"


@dataclass(frozen=True)
class ImageRegistryArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    subscription_id: str
    registry_name: str
    identity_name: str
    source: str  # remote build context (git URL)
    base_image: str  # the CUDA + PyTorch image the Dockerfile starts from
    tag: str
    tags: Mapping[str, str]


class ImageRegistry(FtkComponent):
    """Registry, image build and pull identity; `image` resolves once the build has run."""

    image: pulumi.Output[str]
    login_server: pulumi.Output[str]
    identity_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ImageRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ImageRegistry", name, opts)
        registry = containerregistry.Registry(
            f"{name}-registry",
            registry_name=args.registry_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=containerregistry.SkuArgs(name=containerregistry.SkuName.BASIC),
            admin_user_enabled=False,
            tags=dict(args.tags),
            opts=self._child(),
        )
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-pull-identity",
            resource_name_=args.identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=dict(args.tags),
            opts=self._child(),
        )
        pull = authorization.RoleAssignment(
            f"{name}-acr-pull",
            principal_id=identity.principal_id,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=(
                f"/subscriptions/{args.subscription_id}/providers/"
                f"Microsoft.Authorization/roleDefinitions/{ACR_PULL_ROLE}"
            ),
            scope=registry.id,
            opts=self._child(),
        )
        build = containerregistry.TaskRun(
            f"{name}-build",
            registry_name=registry.name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            force_update_tag=args.tag,
            run_request=containerregistry.DockerBuildRequestArgs(
                type="DockerBuildRequest",
                source_location=args.source,
                docker_file_path=DOCKERFILE,
                image_names=[f"{REPOSITORY}:{args.tag}"],
                is_push_enabled=True,
                arguments=[containerregistry.ArgumentArgs(name="BASE", value=args.base_image)],
                platform=containerregistry.PlatformPropertiesArgs(
                    os=containerregistry.OS.LINUX,
                    architecture=containerregistry.Architecture.AMD64,
                ),
            ),
            # After the grant: the build's minutes count towards its propagation.
            opts=self._child(depends_on=[pull]),
        )
        self.login_server = registry.login_server
        self.identity_id = identity.id
        # Depend on the build and the role: the image must exist, and be pullable (the grant
        # in effect: ROLE_PROPAGATION_S), before the job or the app names it.
        self.image = pulumi.Output.all(
            registry.login_server, build.id, pull.id, pull.created_on
        ).apply(lambda v: _once_granted(f"{v[0]}/{REPOSITORY}:{args.tag}", v[3]))
        self.register_outputs(
            {
                "image": self.image,
                "login_server": self.login_server,
                "identity_id": self.identity_id,
            }
        )


@dataclass(frozen=True)
class RegistryPull:
    """How the job and the app pull from the registry: its server, with the pull identity."""

    server: pulumi.Input[str]
    identity_id: pulumi.Input[str]

    def registries(self) -> list[app.RegistryCredentialsArgs]:
        return [app.RegistryCredentialsArgs(server=self.server, identity=self.identity_id)]

    def identity(self) -> app.ManagedServiceIdentityArgs:
        return app.ManagedServiceIdentityArgs(
            type=app.ManagedServiceIdentityType.USER_ASSIGNED,
            user_assigned_identities=[self.identity_id],
        )
