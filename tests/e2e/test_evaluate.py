"""`training.evaluate`: exact match and mean loss of a base model and an adapter (tiny model)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.e2e.conftest import chat_rows, write_jsonl
from training.evaluate import EvalDataError, evaluate, load_examples, normalize


def test_normalize_ignores_case_spaces_and_final_period():
    assert normalize("  Billing.\n") == "billing"
    assert normalize("Not   sure") == "not sure"
    assert normalize("billing, I think") != normalize("billing")


def test_scores_base_and_adapter_on_the_same_examples(tiny_llama, tiny_adapter, eval_file):
    report = evaluate(tiny_llama, tiny_adapter, eval_file, batch_size=4)
    assert report.format == "messages"
    assert report.tuned is not None
    for score in (report.base, report.tuned):
        assert score.examples == 6
        assert 0.0 <= score.exact_match <= 1.0
        assert math.isfinite(score.mean_loss) and score.mean_loss > 0
        assert len(score.samples) == 5
    # The adapter's weights are random, not zero: it must change what the model predicts.
    assert report.tuned.mean_loss != pytest.approx(report.base.mean_loss)
    data = report.to_dict()
    assert data["fine_tuned"]["examples"] == 6 and data["base"]["label"] == "base"


def test_exact_match_counts_answers_equal_to_the_reference(tiny_llama, tmp_path: Path):
    """References set to what the model itself answers must all match; other ones must not."""
    rows = chat_rows(5)
    first = evaluate(tiny_llama, None, write_jsonl(tmp_path / "a.jsonl", rows), max_new_tokens=4)
    assert first.tuned is None
    predictions = [s.prediction for s in first.base.samples]
    assume_nonempty = [p for p in predictions if normalize(p)]
    if not assume_nonempty:
        pytest.skip("the random tiny model answers with nothing but special tokens")
    for row, prediction in zip(rows, predictions, strict=True):
        row["messages"][-1]["content"] = prediction.upper() + "."
    kept = [r for r in rows if normalize(r["messages"][-1]["content"])]
    again = evaluate(tiny_llama, None, write_jsonl(tmp_path / "b.jsonl", kept), max_new_tokens=4)
    assert again.base.correct == len(kept)
    for row in kept:
        row["messages"][-1]["content"] += " not what it says"
    wrong = evaluate(tiny_llama, None, write_jsonl(tmp_path / "c.jsonl", kept), max_new_tokens=4)
    assert wrong.base.correct == 0


def test_mean_loss_is_the_cross_entropy_of_the_reference_tokens(tiny_llama, tmp_path: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = chat_rows(1)
    report = evaluate(tiny_llama, None, write_jsonl(tmp_path / "one.jsonl", rows))
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    messages = rows[0]["messages"]
    prompt = tok.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(messages, tokenize=False)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    c_ids = tok(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    labels = [-100] * len(p_ids) + c_ids
    with torch.no_grad():
        expected = model(
            input_ids=torch.tensor([p_ids + c_ids]), labels=torch.tensor([labels])
        ).loss.item()
    assert report.base.mean_loss == pytest.approx(expected, rel=1e-4)


def test_prompt_completion_and_text_rows(tiny_llama, tmp_path: Path):
    pc = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": "1 2 3", "completion": " 4"}] * 2)
    report = evaluate(tiny_llama, None, pc)
    assert report.format == "prompt_completion" and report.base.correct is not None
    text = write_jsonl(tmp_path / "t.jsonl", [{"text": "The quick brown fox."}] * 2)
    report = evaluate(tiny_llama, None, text)
    assert report.base.correct is None and report.base.exact_match is None
    assert report.base.mean_loss > 0


def test_bad_rows_are_reported_by_line(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}]}\n'
        "{not json\n"
        '{"messages": [{"role": "user", "content": "hi"}]}\n'
    )
    with pytest.raises(EvalDataError) as err:
        load_examples(path)
    assert "line 2" in str(err.value) and "line 3" in str(err.value)
    with pytest.raises(EvalDataError, match="file not found"):
        load_examples(tmp_path / "missing.jsonl")
