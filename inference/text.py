"""Turn generated token ids into text deltas, safely for streaming, honouring stop strings.

Decoding one token at a time breaks multi-byte characters and leading spaces, so each step decodes
a short window (the previous read offset onward) and emits only what became stable. Text that may
be the start of a stop string is held back until it is clear either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


class TextAssembler:
    """Feed token ids in, get the new, final text out; `stopped` once a stop string appeared."""

    def __init__(self, decode: Callable[[Sequence[int]], str], stop: Sequence[str] = ()) -> None:
        self._decode = decode
        self._stop = [s for s in stop if s]
        self._ids: list[int] = []
        self._prefix = 0
        self._read = 0
        self.text = ""
        self._sent = 0
        self.stopped = False

    def push(self, ids: Sequence[int]) -> str:
        """Add generated ids; return the text that can be sent now (may be empty)."""
        if self.stopped:
            return ""
        self._ids.extend(ids)
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        new_text = self._decode(self._ids[self._prefix :])
        if len(new_text) <= len(prefix_text) or new_text.endswith("\ufffd"):
            return ""
        self.text += new_text[len(prefix_text) :]
        self._prefix, self._read = self._read, len(self._ids)
        return self._release(final=False)

    def flush(self) -> str:
        """At the end of generation: whatever was held back."""
        if self.stopped:
            return ""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        if self._stop:
            window_start = max(0, self._sent - max(map(len, self._stop)))
            hits = [i for s in self._stop if (i := self.text.find(s, window_start)) >= 0]
            if hits:
                end = min(hits)
                self.stopped = True
                self.text = self.text[:end]
                return self._take(max(end, self._sent))
        end = len(self.text) if final else len(self.text) - self._held_back()
        return self._take(max(end, self._sent))

    def _held_back(self) -> int:
        """Length of the longest tail that could still grow into a stop string."""
        longest = 0
        for stop in self._stop:
            for n in range(min(len(stop) - 1, len(self.text)), longest, -1):
                if self.text.endswith(stop[:n]):
                    longest = n
                    break
        return longest

    def _take(self, end: int) -> str:
        delta = self.text[self._sent : end]
        self._sent = end
        return delta
