"""Untrusted text (dataset rows, model answers) never reaches the terminal as control codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.safe_text import safe_text
from training.evaluate import EvalReport, ModelScore, Sample

ATTACKS = {
    "clear-screen": "\x1b[2J\x1b[H",
    "retitle": "\x1b]0;pwned\x07",
    "hidden-text": "\x1b[8mhidden\x1b[0m",
    "c1-csi": "\x9b2J",
    "bidi-override": "abc\u202edcba",
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_control_characters_become_visible_escapes(attack: str):
    shown = safe_text(f"before {attack} after")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
    assert "\u202e" not in shown and shown.startswith("before ") and shown.endswith(" after")


def test_ordinary_text_is_unchanged():
    text = "Réponse: 42 — naïve 東京 emoji 🙂"
    assert safe_text(text) == text


def test_the_eval_sample_table_shows_escapes_not_raw_sequences(capsys, monkeypatch):
    from cli.commands.eval import render_report

    def score(label: str, answer: str) -> ModelScore:
        sample = Sample(f"{ATTACKS['clear-screen']}Q?", ATTACKS["retitle"], answer, False)
        return ModelScore(label, 1, 0, 1.0, 1.0, [sample])

    base = score("base", ATTACKS["hidden-text"])
    tuned = score("fine-tuned", ATTACKS["c1-csi"])
    report = EvalReport(Path("eval.jsonl"), "chat", "m", "r1", base, tuned)
    monkeypatch.setenv("COLUMNS", "200")
    render_report(report, samples=3)
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\x9b" not in err, repr(err)
    assert "\\x1b[2J" in err  # shown, so the person sees what the data holds
