"""One helper for "a container that runs a bash script from the mounted share", job and app alike.

The fine-tuning job and the inference app differ in trigger, ingress and probes; the container
they run (image, `bash -c` script, plain and `secretRef` env, size, the share at `mount_path`) and
the Azure Files volume behind it are the same shape, so both are built here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_azure_native.app as app

from contract.commands import bash_script

VOLUME_NAME = "share"


def share_container(
    *,
    name: str,
    image: pulumi.Input[str],
    commands: Sequence[str],
    cpu: float,
    memory: str,
    mount_path: str,
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
        resources=app.ContainerResourcesArgs(cpu=cpu, memory=memory),
        probes=list(probes) if probes else None,
        volume_mounts=[app.VolumeMountArgs(volume_name=VOLUME_NAME, mount_path=mount_path)],
    )


def share_volume(storage_name: pulumi.Input[str]) -> app.VolumeArgs:
    """The Azure Files volume the container mounts: the environment's storage entry."""
    return app.VolumeArgs(
        name=VOLUME_NAME, storage_type=app.StorageType.AZURE_FILE, storage_name=storage_name
    )
