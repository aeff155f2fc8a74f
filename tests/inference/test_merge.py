"""`python -m inference merge`: the merged folder loads without peft and matches the adapter."""

from __future__ import annotations

import json

import pytest


def test_merged_model_matches_base_plus_adapter(tiny_llama, adapter_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from inference.cli import main

    out = tmp_path / "merged"
    assert (
        main(["merge", "--base", str(tiny_llama), "--adapter", str(adapter_dir), "--out", str(out)])
        == 0
    )

    assert (out / "model.safetensors").is_file()
    assert not (out / "adapter_config.json").exists()
    assert "peft" not in json.loads((out / "config.json").read_text()).get("architectures", [""])[0]
    merged = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template

    reference = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_llama), adapter_dir
    )
    base = AutoModelForCausalLM.from_pretrained(tiny_llama)
    ids = torch.tensor([tokenizer("The capital of France is Paris.")["input_ids"]])
    with torch.no_grad():
        expected = reference(ids).logits
        got = merged(ids).logits
        untouched = base(ids).logits
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()
    assert not torch.allclose(untouched, expected, atol=1e-3)  # the adapter does change the model


def test_merge_refuses_a_non_empty_output_and_a_folder_that_is_no_adapter(
    tiny_llama, adapter_dir, tmp_path, capsys
):
    from inference.cli import main

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    args = ["merge", "--base", str(tiny_llama), "--adapter"]
    assert main([*args, str(adapter_dir), "--out", str(tmp_path / "taken")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*args, str(tiny_llama), "--out", str(tmp_path / "new")]) == 2
    assert "adapter_config.json" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["/nonexistent/model", "./no-such-folder"])
def test_merge_with_a_missing_base_is_one_clear_error(adapter_dir, tmp_path, capsys, missing):
    from inference.cli import main

    args = ["merge", "--base", missing, "--adapter", str(adapter_dir), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
