"""One helper for "a container that runs a bash script from the mounted share", job and app alike.

The fine-tuning job and the inference app differ in trigger, ingress and probes; where they run
(`ShareWorkload`: group, region, environment, GPU profile, size, the share's storage entry and
mount path, tags), the container they run (image, `bash -c` script, plain and `secretRef` env)
and the Azure Files volume behind it are the same shape, so all three are built here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native.app as app

from contract.commands import bash_script

VOLUME_NAME = "share"
# SMB mount options for the share (Volume.mountOptions: "a comma-separated string", Microsoft.App
# specification/app/resource-manager/Microsoft.App/ContainerApps/stable/2026-07-01/openapi.json;
# MicrosoftDocs/azure-docs articles/container-apps/storage-mounts.md, which points to "Use
# mountOptions settings in Azure Files" (learn.microsoft.com troubleshoot/azure/azure-kubernetes/
# storage/mountoptions-settings-azure-files), all read 2026-12-05). From that page's recommended
# SMB set: `actimeo=30` caches attributes for 30 s ("reduces latency for metadata-heavy
# workload": the job and the app import thousands of files from the share), `nosharesock` gives
# each mount its own connection ("reduces probability of reconnect race"), `mfsymlinks` lets
# symbolic links exist on the share. Its dir_mode/file_mode 0777, cache=strict (the CIFS default)
# and nobrl are not needed here: one user writes, and nothing takes byte-range locks.
SHARE_MOUNT_OPTIONS = "actimeo=30,nosharesock,mfsymlinks"


@dataclass(frozen=True)
class ShareWorkload:
    """Where a workload that mounts the share runs: the same for the job and the app."""

    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    environment_id: pulumi.Input[str]
    workload_profile_name: str
    cpu: float
    memory: str
    mount_path: str
    storage_name: pulumi.Input[str]  # the environment's Azure Files storage entry
    tags: Mapping[str, str]

    def placement(self) -> dict[str, Any]:
        """The keyword arguments an `app.Job` and an `app.ContainerApp` take alike."""
        return {
            "resource_group_name": self.resource_group_name,
            "location": self.location,
            "environment_id": self.environment_id,
            "workload_profile_name": self.workload_profile_name,
            "tags": dict(self.tags),
        }


def share_container(
    workload: ShareWorkload,
    *,
    name: str,
    image: pulumi.Input[str],
    commands: Sequence[str],
    env: Mapping[str, str],
    secret_env: Mapping[str, str] | None = None,
    probes: Sequence[app.ContainerAppProbeArgs] | None = None,
) -> app.ContainerArgs:
    """The container: `env` plain values, `secret_env` env var name -> ACA secret name."""
    variables = [app.EnvironmentVarArgs(name=k, value=v) for k, v in env.items()]
    variables += [
        app.EnvironmentVarArgs(name=k, secret_ref=ref) for k, ref in (secret_env or {}).items()
    ]
    return app.ContainerArgs(
        name=name,
        image=image,
        command=["/bin/bash", "-c", bash_script(commands)],
        env=variables,
        resources=app.ContainerResourcesArgs(cpu=workload.cpu, memory=workload.memory),
        probes=list(probes) if probes else None,
        volume_mounts=[
            app.VolumeMountArgs(volume_name=VOLUME_NAME, mount_path=workload.mount_path)
        ],
    )


def share_volume(workload: ShareWorkload) -> app.VolumeArgs:
    """The Azure Files volume the container mounts: the environment's storage entry."""
    return app.VolumeArgs(
        name=VOLUME_NAME,
        storage_type=app.StorageType.AZURE_FILE,
        storage_name=workload.storage_name,
        mount_options=SHARE_MOUNT_OPTIONS,
    )
