"""Apply the ``secrets`` section of the ignore file to leak findings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from customhouse.ignore import IgnoreEntry, IgnoreFile
from customhouse.leaks.detector import LeakFinding
from customhouse.leaks.rules import compile_globs


def _matches(entry: IgnoreEntry, f: LeakFinding) -> bool:
    if entry.rule and entry.rule != f.rule_id:
        return False
    if entry.fingerprint and entry.fingerprint != f.fingerprint:
        return False
    if entry.path:
        rx = compile_globs([entry.path.lstrip("/")])
        if rx is None or f.path is None or not rx.match(f.path):
            return False
    return True


def apply_ignores(
    findings: Sequence[LeakFinding], ignores: IgnoreFile, today: dt.date | None = None
) -> tuple[list[LeakFinding], list[tuple[LeakFinding, IgnoreEntry]]]:
    """Split findings into (kept, suppressed with the entry that suppressed each)."""
    active = ignores.active(ignores.secrets, today)
    kept: list[LeakFinding] = []
    suppressed: list[tuple[LeakFinding, IgnoreEntry]] = []
    for f in findings:
        entry = next((e for e in active if _matches(e, f)), None)
        if entry is None:
            kept.append(f)
        else:
            suppressed.append((f, entry))
    return kept, suppressed
