"""Lines of a job's log stream: parsing (`{"TimeStamp", "Log"}` json or plain text) and the
de-duplication that lets a reconnect ask for a tail of recent lines without printing any twice.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class Record:
    stamp: datetime | str | None
    text: str


def parse_line(raw: str) -> Record:
    """A stream line: `{"TimeStamp": ..., "Log": ...}` (json output) or plain text."""
    raw = raw.rstrip("\r\n")
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            return Record(None, raw)
        if isinstance(data, dict) and "Log" in data:
            stamp = data.get("TimeStamp")
            return Record(_parse_time(stamp) if stamp else None, str(data["Log"]).rstrip("\n"))
    return Record(None, raw)


def _parse_time(value: str) -> datetime | str:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value


class Dedup:
    """Skip lines a previous connection already printed, using their timestamps."""

    def __init__(self) -> None:
        self.last: Any = None
        self.printed_at_last: Counter[str] = Counter()
        self.replayed: Counter[str] = Counter()

    def new_connection(self) -> None:
        self.replayed = Counter()

    def fresh(self, record: Record) -> bool:
        stamp = record.stamp
        if stamp is None:
            return True
        try:
            if self.last is not None and stamp < self.last:
                return False
        except TypeError:
            return True  # mixed timestamp shapes: cannot tell, print
        if stamp == self.last:
            self.replayed[record.text] += 1
            if self.replayed[record.text] <= self.printed_at_last[record.text]:
                return False
            self.printed_at_last[record.text] += 1
            return True
        self.last = stamp
        self.printed_at_last = Counter({record.text: 1})
        self.replayed = Counter({record.text: 1})
        return True
