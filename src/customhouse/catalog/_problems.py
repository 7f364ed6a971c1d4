"""The warnings of one file, capped so a garbled file cannot flood the report; tolerant text lines."""

from __future__ import annotations

from collections.abc import Iterator

MAX_WARNINGS = 25


class Problems:
    def __init__(self, path: str, limit: int = MAX_WARNINGS) -> None:
        self.path = path
        self.limit = limit
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(f"{self.path}: {message}")
        else:
            self.dropped += 1

    def finish(self) -> list[str]:
        if self.dropped:
            self.items.append(f"{self.path}: {self.dropped} more problems not shown")
        return self.items


def numbered_lines(
    data: bytes, problems: Problems, *, errors: str, note: str
) -> Iterator[tuple[int, str]]:
    """Numbered text lines; CRLF tolerated; a line of invalid UTF-8 is decoded with ``errors``
    and reported as ``line N: <note>``."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        for n, raw in enumerate(data.split(b"\n"), 1):
            try:
                yield n, raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.add(f"line {n}: {note}")
                yield n, raw.decode("utf-8", errors)
        return
    yield from enumerate(text.split("\n"), 1)
