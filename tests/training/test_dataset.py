"""Data formats are detected, rendered, and every problem is reported with its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.conftest import TEMPLATE, rows, write_jsonl
from training.spec.config import DataSection
from training.spec.dataset import check_file, long_examples, split_eval


@pytest.mark.parametrize("fmt", ["messages", "prompt_completion", "text"])
def test_formats_are_detected(tmp_path: Path, fmt: str):
    check = check_file(write_jsonl(tmp_path / "d.jsonl", rows(fmt)), DataSection(train_file="x"))
    assert check.format == fmt
    assert not check.errors
    assert len(check.examples) == len(rows(fmt))


def test_template_renders_the_columns(tmp_path: Path):
    data = DataSection(train_file="x", text_cols=("phrase", "tone"), text_template=TEMPLATE)
    check = check_file(write_jsonl(tmp_path / "d.jsonl", rows("template")), data)
    assert check.format == "template"
    line, example = check.examples[0]
    assert line == 1
    assert example == {
        "text": "<|user|>\nWhat is the capital of France?<|end|>\n<|assistant|>\nParis.<|end|>"
    }


def test_json_array_rows_carry_their_lines(tmp_path: Path):
    path = tmp_path / "d.json"
    path.write_text(
        '[\n  {"text": "a"},\n  {"text": "b"},\n\n  {"text": ""}\n]\n', encoding="utf-8"
    )
    check = check_file(path, DataSection(train_file="x"))
    assert [line for line, _ in check.examples] == [2, 3]
    assert [(p.line, p.message) for p in check.errors] == [(5, "empty 'text'")]


def _messages(*pairs):
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


def test_each_problem_names_its_line(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    good = _messages(("user", "hi"), ("assistant", "hello"))
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"prompt": "p", "completion": "c"}),
        json.dumps(_messages(("user", "hi"), ("assistant", "  "))),
        json.dumps(_messages(("user", "a"), ("user", "b"), ("assistant", "c"))),
        json.dumps(_messages(("user", "a"))),
        json.dumps(good),
        json.dumps(_messages(("assistant", "a"), ("user", "b"))),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check = check_file(path, DataSection(train_file="x"))
    errors = {p.line: p.message for p in check.errors}
    assert errors[2].startswith("invalid JSON")
    assert errors[3] == "missing field 'messages'"
    assert errors[4] == "message 2: empty content"
    assert "wrong role order" in errors[5]
    assert "last message" in errors[6]
    assert "wrong role order" in errors[8]
    assert [(p.line, p.message) for p in check.warnings] == [(7, "duplicate of line 1")]


def test_unknown_template_column_names_the_row(tmp_path: Path):
    items = rows("template")
    items[2] = {"phrase": "x", "mood": "y"}
    data = DataSection(train_file="x", text_template=TEMPLATE)
    check = check_file(write_jsonl(tmp_path / "d.jsonl", items), data)
    assert [p.line for p in check.errors] == [3]
    assert "unknown template column 'tone'" in check.errors[0].message


def test_declared_format_must_match(tmp_path: Path):
    path = write_jsonl(tmp_path / "d.jsonl", rows("text"))
    check = check_file(path, DataSection(train_file="x", format="prompt_completion"))
    assert check.errors[0].line == 1
    assert check.errors[0].message == "missing field 'prompt'"


def test_long_examples_are_counted():
    examples = [(1, {"text": "a " * 10}), (2, {"text": "a " * 100}), (5, {"text": "a " * 200})]
    assert long_examples(examples, 50, lambda t: len(t.split())) == [2, 5]


def test_long_examples_are_counted_on_a_bounded_prefix():
    seen: list[int] = []

    def words(text: str) -> int:
        seen.append(len(text))
        return len(text.split())

    huge = "word " * 1_000_000  # 5 MB in one example
    examples = [(1, {"text": "a " * 10}), (2, {"text": huge}), (3, {"text": "b " * 49})]
    assert long_examples(examples, 50, words) == [2]
    assert max(seen) <= 4096  # never the whole 5 MB; the short ones whole
    spaces = " " * 1_000_000 + "a"  # few tokens over a long text: still read to its end
    seen.clear()
    assert long_examples([(4, {"text": spaces})], 50, words) == []


def test_eval_split_is_reproducible_and_disjoint():
    examples = [{"text": str(i)} for i in range(20)]
    train, evals = split_eval(examples, 0.25, seed=1)
    assert len(evals) == 5 and len(train) == 15
    assert not {e["text"] for e in train} & {e["text"] for e in evals}
    assert split_eval(examples, 0.25, seed=1) == (train, evals)
