"""`ftk run` prints the doctor's cheap estimate before starting; `--max-cost` sets a time budget."""

from __future__ import annotations

import json

import pytest

from cli.errors import ExitCode
from contract import env as ftk_env
from testkit.fakes.targets import FakeTarget

A100 = "Consumption-GPU-NC24-A100"


def test_run_prints_the_cost_estimate_first(project, invoke):
    target = FakeTarget(gpu_profile=A100)
    result = invoke(target, ["run", "finetuning/tiny.yaml", "--run-id", "r1"], project)
    assert result.exit_code == 0, result.output
    assert "estimate: about $8.12/h" in result.stderr
    assert target.started == [("r1", None)]  # no budget of ours: the job's own applies


def test_max_cost_becomes_the_executions_time_budget(project, invoke):
    target = FakeTarget(gpu_profile=A100)
    args = ["run", "finetuning/tiny.yaml", "--run-id", "r1", "--max-cost", "2", "--json"]
    result = invoke(target, args, project)
    assert result.exit_code == 0, result.output
    ((_, env),) = target.started
    seconds = int(env[ftk_env.TIME_BUDGET])
    assert seconds == int(2 / (8.1216 / 3600))  # $2 at $8.1216/h (GPU + vCPU + memory): 14 minutes
    assert "ends resumable at 15 min" in result.stderr
    assert json.loads(result.stdout)["run_id"] == "r1"


def test_max_cost_too_small_for_one_checkpoint_is_refused(project, invoke):
    target = FakeTarget(gpu_profile=A100)
    result = invoke(target, ["run", "finetuning/tiny.yaml", "--max-cost", "0.2"], project)
    assert result.exit_code == ExitCode.USAGE
    assert "too little to load the model, train and save one checkpoint" in result.stderr
    assert "raise --max-cost to at least 1.35" in result.stderr
    assert target.started == [] and target.share().files == {}


def test_max_cost_needs_a_priced_profile(project, invoke):
    target = FakeTarget(gpu_profile="NC24-A100")  # dedicated: no per-second price
    result = invoke(target, ["run", "finetuning/tiny.yaml", "--max-cost", "5"], project)
    assert result.exit_code == ExitCode.USAGE
    assert "--max-cost needs a GPU profile with a known price" in result.stderr
    assert target.started == []


def test_run_warns_when_the_model_will_not_fit(project, invoke):
    config = project / "finetuning" / "big.yaml"
    config.write_text(
        "model:\n  name: meta-llama/Meta-Llama-3-8B-Instruct\n"
        "data:\n  train_file: data/train.jsonl\nquantization:\n  mode: none\n"
    )
    target = FakeTarget(gpu_profile="Consumption-GPU-NC8as-T4")
    result = invoke(target, ["run", "finetuning/big.yaml", "--no-sync"], project)
    assert "! model fits:" in result.stderr and "of 1 T4 (15 GiB)" in result.stderr


class _StackServing(FakeTarget):
    """A stack whose inference app runs `engine` (the INFERENCE_ENGINE output)."""

    def __init__(self, engine: str) -> None:
        super().__init__(gpu_profile=A100)
        self.engine = engine

    def describe(self):
        return {**super().describe(), "INFERENCE_ENGINE": self.engine}


def _config_with_lora(project, lora: str):
    config = project / "finetuning" / "lora.yaml"
    text = (project / "finetuning" / "tiny.yaml").read_text()
    config.write_text(text + f"lora:\n{lora}")
    return "finetuning/lora.yaml"


def test_run_warns_when_the_stacks_vllm_cannot_serve_the_adapter(project, invoke):
    name = _config_with_lora(project, "  r: 1024\n  bias: all\n")
    result = invoke(_StackServing("vllm"), ["run", name, "--no-sync"], project)
    assert result.exit_code == 0, result.output  # a warning, not a refusal: training may be wanted
    assert "! serving: the stack's app runs vLLM, and LoRA rank 1024" in result.stderr
    quiet = invoke(_StackServing("transformers"), ["run", name, "--no-sync"], project)
    assert "serving" not in quiet.stderr


def test_run_warns_when_vllm_would_get_lora_bias(project, invoke):
    name = _config_with_lora(project, "  bias: lora_only\n")
    result = invoke(_StackServing("vllm"), ["run", name, "--no-sync"], project)
    assert "vLLM serves no LoRA bias" in result.stderr


@pytest.mark.parametrize("amount", ["nan", "NaN", "inf", "-inf", "1e308", "1000001", "-1"])
def test_max_cost_that_is_not_a_finite_amount_is_a_usage_error(project, invoke, amount):
    target = FakeTarget(gpu_profile=A100)
    args = ["run", "finetuning/tiny.yaml", "--run-id", "r1", "--max-cost", amount]
    result = invoke(target, args, project)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--max-cost" in result.output and "unexpected error" not in result.output
    assert target.started == []
