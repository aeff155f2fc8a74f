"""Streaming text assembly: stable deltas, multi-byte characters, stop strings across tokens."""

from __future__ import annotations

from inference.text import TextAssembler


# A toy "tokenizer": each id is one UTF-8 byte; decode replaces incomplete sequences like HF does.
def _decode(ids) -> str:
    return bytes(ids).decode("utf-8", errors="replace")


def _ids(text: str) -> list[int]:
    return list(text.encode())


def _run(text: str, stop: list[str]) -> tuple[str, bool]:
    asm = TextAssembler(_decode, stop)
    out = "".join(asm.push([b]) for b in _ids(text))
    return out + asm.flush(), asm.stopped


def test_deltas_rebuild_the_text_including_multibyte_characters():
    text, stopped = _run("héllo wörld ✓", [])
    assert text == "héllo wörld ✓"
    assert not stopped


def test_no_partial_character_is_ever_sent():
    asm = TextAssembler(_decode)
    deltas = [asm.push([b]) for b in _ids("✓")]
    assert deltas == ["", "", "✓"]


def test_stop_string_split_across_tokens_ends_the_text_before_it():
    text, stopped = _run("answer: yes<|end|> trailing", ["<|end|>"])
    assert text == "answer: yes"
    assert stopped


def test_earliest_of_several_stop_strings_wins():
    text, stopped = _run("one two three", ["three", "two"])
    assert text == "one "
    assert stopped


def test_text_that_only_looks_like_a_stop_prefix_is_released_at_the_end():
    asm = TextAssembler(_decode, ["STOP"])
    streamed = "".join(asm.push([b]) for b in _ids("go ST"))
    assert streamed == "go "  # "ST" held back: it may become STOP
    assert asm.flush() == "ST"
    assert not asm.stopped
