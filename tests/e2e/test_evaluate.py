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


def _pairs(n: int, conversational: bool) -> list[dict]:
    answers = ["Paris.", "Next step: open Settings.", "yes", "It ships today.", "4 5 6", "no"]
    rambling = "Well, it depends on a lot of things, honestly, hard to say."
    out = []
    for i in range(n):
        prompt, chosen, rejected = f"Question {i}?", answers[i % len(answers)], rambling[: 12 + i]
        if conversational:
            out.append(
                {
                    "prompt": [{"role": "user", "content": prompt}],
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                }
            )
        else:
            out.append({"prompt": prompt + " ", "chosen": chosen, "rejected": rejected})
    return out


@pytest.mark.parametrize("conversational", [False, True])
def test_preference_accuracy_counts_pairs_whose_chosen_answer_is_likelier(
    tiny_llama, tiny_adapter, tmp_path: Path, conversational: bool
):
    rows = _pairs(6, conversational)
    report = evaluate(tiny_llama, tiny_adapter, write_jsonl(tmp_path / "p.jsonl", rows))
    assert report.format == ("preference_messages" if conversational else "preference")
    swapped = [{**r, "chosen": r["rejected"], "rejected": r["chosen"]} for r in rows]
    flipped = evaluate(tiny_llama, tiny_adapter, write_jsonl(tmp_path / "s.jsonl", swapped))
    for score, other in ((report.base, flipped.base), (report.tuned, flipped.tuned)):
        assert score.correct is None and score.exact_match is None  # no answers generated
        assert score.preferred + other.preferred == 6  # every pair counts once, one way
        assert score.mean_margin == pytest.approx(-other.mean_margin, rel=1e-4)
        assert score.preference_accuracy == score.preferred / 6
    data = report.to_dict()
    assert data["fine_tuned"]["preference_accuracy"] == report.tuned.preference_accuracy
    assert data["base"]["mean_margin"] == round(report.base.mean_margin, 4)


def test_preference_margin_is_the_summed_log_probability_gap(tiny_llama, tmp_path: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    row = {"prompt": "1 2 3", "chosen": " 4 5", "rejected": " 9 9 9"}
    report = evaluate(tiny_llama, None, write_jsonl(tmp_path / "one.jsonl", [row]))
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)

    def logp(answer: str) -> float:
        p_ids = tok(row["prompt"])["input_ids"]
        a_ids = [*tok(answer, add_special_tokens=False)["input_ids"], tok.eos_token_id]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([p_ids + a_ids])).logits[0, :-1]
        logprobs = torch.log_softmax(logits, dim=-1)
        return sum(logprobs[len(p_ids) - 1 + i, t].item() for i, t in enumerate(a_ids))

    expected = logp(row["chosen"]) - logp(row["rejected"])
    assert report.base.mean_margin == pytest.approx(expected, rel=1e-4)
    assert report.base.preferred == int(expected > 0)
