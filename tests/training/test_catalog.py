"""The model catalog's sizing advice matches what a serverless GPU replica is: one whole GPU."""

from __future__ import annotations

import re

import pytest

from training.spec import catalog

SERVERLESS = (catalog.T4, catalog.A100)


@pytest.mark.parametrize("model", catalog.MODELS, ids=lambda m: m.id)
def test_no_model_asks_for_more_than_one_serverless_gpu(model) -> None:
    # gpu-serverless-overview.md: "Multi and fractional GPU replicas aren't supported".
    if model.min_gpu_profile in SERVERLESS:
        assert model.gpu_count == catalog.SERVERLESS_GPUS_PER_REPLICA, model.id
    note = model.quota_note
    assert not re.search(r"\b[2-9] ?(x|×) ?'?Consumption-GPU", note), note
    assert not re.search(r"\b[2-9] (serverless )?(A100|T4)", note), note


@pytest.mark.parametrize("model", catalog.MODELS, ids=lambda m: m.id)
def test_every_gpu_model_says_what_fits_one_gpu(model) -> None:
    if model.min_gpu_profile is None:
        return
    assert re.search(r"\b[Oo]ne (serverless )?(T4|A100|GPU)", model.quota_note), model.id


def test_eight_billion_parameters_fit_one_a100_with_qlora() -> None:
    llama = catalog.find("meta-llama/Meta-Llama-3-8B-Instruct")
    assert llama is not None and llama.gpu_count == 1
    assert "One serverless A100" in llama.quota_note and "QLoRA" in llama.quota_note
    assert "dedicated NC48-A100 or NC96-A100" in llama.quota_note


def test_the_readme_table_says_what_the_catalog_says_fits_with_dpo() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "training/README.md").read_text()
    for model in catalog.MODELS:
        row = next(line for line in readme.splitlines() if line.startswith(f"| {model.id} |"))
        shown = row.rstrip(" |").rsplit("|", 1)[1]
        for gpu, length, pairs in model.dpo_fits:
            assert f"{gpu} {length} x {pairs}" in shown, (model.id, shown)
