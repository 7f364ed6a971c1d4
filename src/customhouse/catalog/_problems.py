"""The warnings of one file, capped so a garbled file cannot flood the report."""

from __future__ import annotations

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
