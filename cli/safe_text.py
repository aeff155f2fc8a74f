"""Untrusted text made safe to print on a terminal: file names, dataset text, model output.

A file name, a dataset line or a model's answer may hold terminal control sequences: `ESC [2J`
clears the screen, `ESC ]0;...BEL` retitles the window, `ESC [8m` hides the text after it, a C1
`CSI` (U+009B) does what `ESC [` does on some terminals, and bidirectional overrides (U+202E ...)
reorder what is shown. Printing such text as it is lets whoever chose it draw on the user's
terminal. `safe_text` shows each such character as its Python escape (`\\x1b`, `\\u202e`), so the
text stays readable and nothing is executed; `safe_markup` also escapes Rich markup (`[red]`), for
text put into a string that Rich renders as markup.

Escaped: every control character (Unicode category Cc: C0, DEL, C1, so `\\n` and `\\t` too unless
kept), the bidirectional formatting characters, line and paragraph separators, and lone
surrogates (a file name that is not UTF-8, decoded with `surrogateescape`, which a strict
stream cannot even encode).
"""

from __future__ import annotations

import re

# Control characters (Unicode category Cc: C0, DEL, C1), the bidi marks, embeddings, overrides and
# isolates (U+061C, U+200E-F, U+202A-E, U+2066-9), the line and paragraph separators (U+2028-9)
# and lone surrogates (U+D800-DFFF).
_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


def safe_text(text: str, *, keep: str = "") -> str:
    """`text` with every character that could control a terminal shown as its escape.

    Characters in `keep` (e.g. "\\n" for multi-line text) are left as they are."""
    return _UNSAFE.sub(lambda m: m[0] if m[0] in keep else _escape(m[0]), text)


def safe_markup(text: str, *, keep: str = "") -> str:
    """`safe_text`, then Rich markup escaped: for untrusted text inside a Rich markup string."""
    from rich.markup import escape

    return escape(safe_text(text, keep=keep))
