"""`cli.safe_text`: untrusted text (file names, dataset text, model output) made safe to print."""

from __future__ import annotations

import pytest

from cli.safe_text import safe_markup, safe_text

ATTACKS = {  # what the raw text would do on a terminal -> how it is shown instead
    "\x1b[2J\x1b[H": "\\x1b[2J\\x1b[H",  # clear the screen, cursor home
    "\x1b]0;pwned\x07": "\\x1b]0;pwned\\x07",  # set the window title
    "ok\x1b[8mhidden": "ok\\x1b[8mhidden",  # conceal what follows
    "\x9b2J": "\\x9b2J",  # C1 CSI: ESC [ on some terminals
    "a\rb": "a\\rb",  # carriage return overwrites the line
    "bad\x08\x08\x08good": "bad\\x08\\x08\\x08good",  # backspaces
    "\u202etxt.exe": "\\u202etxt.exe",  # right-to-left override
    "x\u2066y\u2069": "x\\u2066y\\u2069",  # bidi isolate
    "line\u2028break": "line\\u2028break",
    "caf\udce9.txt": "caf\\udce9.txt",  # a Latin-1 file name decoded with surrogateescape
    "del\x7f": "del\\x7f",
    "nul\x00": "nul\\x00",
}


@pytest.mark.parametrize("raw", list(ATTACKS))
def test_control_sequences_are_shown_escaped(raw):
    assert safe_text(raw) == ATTACKS[raw]
    safe_text(raw).encode("ascii")  # printable on any stream


def test_ordinary_text_is_unchanged_and_kept_characters_stay():
    for text in ("data/train.jsonl", "café 東京 ü.txt", "emoji 🙂", "[red]not markup here[/]"):
        assert safe_text(text) == text
    assert safe_text("one\ntwo\tthree", keep="\n") == "one\ntwo\\tthree"


def test_safe_markup_also_escapes_rich_markup():
    assert safe_markup("[bold]x\x1b[2J") == "\\[bold]x\\x1b[2J"
