"""Untrusted text made safe to print on a terminal (dataset text, model output, file names).

Rich strips only a few control codes (BEL, BS, VT, FF, CR) and passes ESC through, so text from a
dataset or a model could clear the screen, retitle the window, hide itself or fake a prompt.
`terminal_safe` shows every C0 and C1 control character (ESC included, so no escape sequence
survives), DEL and the Unicode bidirectional overrides as visible escapes (`\\x1b`, `\\u202e`).
"""

from __future__ import annotations

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))  # embeddings, overrides, isolates
_VISIBLE = {
    **{c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))},
    **{c: f"\\u{c:04x}" for c in _BIDI},
}


def terminal_safe(text: str) -> str:
    """`text` with control characters (newlines and tabs too) written as visible escapes."""
    return text.translate(_VISIBLE)
