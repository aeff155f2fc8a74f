"""FTK_GPU_PROCESSES: the job runs one training process per GPU its replica gets."""

from __future__ import annotations

import pytest

from contract import gpus
from testkit.fakes.pulumi_mocks import reveal, run_program

JOB = "azure-native:app:Job"


@pytest.mark.parametrize(
    ("profile", "cpu", "processes"),
    [
        ("Consumption-GPU-NC24-A100", 24, 1),
        ("NC24-A100", 22, 1),
        ("NC48-A100", 22, 1),  # the default replica: one GPU's share of the node
        ("NC48-A100", 44, 2),  # the whole node (less the runtime's margin): both GPUs
        ("NC96-A100", 44, 2),
        ("NC96-A100", 88, 4),
    ],
)
def test_a_replica_gets_one_gpu_per_gpu_share_of_the_node(profile, cpu, processes) -> None:
    assert gpus.GPU_PROFILES[profile].replica_gpus(cpu) == processes


@pytest.mark.parametrize(("cpu", "processes"), [(None, "1"), (88, "4")])
def test_the_job_sets_the_process_count_from_the_profile(pulumi_mocks, cpu, processes) -> None:
    config = {"gpuProfile": "NC96-A100", **({"cpu": cpu, "memory": "800Gi"} if cpu else {})}
    run_program(config, location="westus3")
    job = pulumi_mocks.one(JOB)
    container = reveal(job.inputs["template"])["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FTK_GPU_PROCESSES"] == processes, pulumi_mocks.urn(job)
