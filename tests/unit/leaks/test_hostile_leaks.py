"""Hostile inputs to the leak scanner: exact results, and bounded work (no wall-clock)."""

from __future__ import annotations

import re

import pytest

from customhouse.leaks import detector as det
from customhouse.leaks import engine
from customhouse.leaks.detector import LeakDetector, _history_assignments

_OLD_ARGS = re.compile(r"^\|\d+\s+(.*?)\s+(?:/bin/sh|/bin/bash|sh|bash|cmd)\b")
_OLD_ENV = re.compile(r"(?:^|#\(nop\)\s+|\s)(ENV|ARG)\s+(.*)$")


@pytest.fixture(scope="module")
def d() -> LeakDetector:
    return LeakDetector()


def _count_accept(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    orig = engine.ContentScanner._accept

    def counting(rule, m, buf):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return orig(rule, m, buf)

    monkeypatch.setattr(engine.ContentScanner, "_accept", staticmethod(counting))
    return calls


def test_pem_headers_without_body(d: LeakDetector, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_accept(monkeypatch)
    data = b"-----BEGIN RSA PRIVATE KEY-----\n" * 200
    assert d.scanner.scan_bytes(data, "k.pem") == []
    assert calls[0] <= 200  # each header judged once (was once per overlapping window)


def test_long_line_of_keywords_searched_boundedly(d: LeakDetector) -> None:
    rule = next(r for r in d.scanner.rules if r.id.startswith("github"))
    assert rule.regex is not None
    searched = [0]
    orig = rule.regex

    class Counting:
        def finditer(self, buf: bytes, start: int, end: int):  # type: ignore[no-untyped-def]
            searched[0] += end - start
            return orig.finditer(buf, start, end)

    object.__setattr__(rule, "regex", Counting())
    try:
        data = b"ghp_" * 25_000
        assert d.scanner.scan_bytes(data, "x.txt") == []
    finally:
        object.__setattr__(rule, "regex", orig)
    assert searched[0] <= 16 * len(data)  # was ~2 * LINE_CAP per hit: 80x the input


def test_real_key_after_header_noise_still_found(d: LeakDetector) -> None:
    body = b"MIIEowIBAAKCAQEA" + b"A" * 200
    key = b"-----BEGIN RSA PRIVATE KEY-----\n" + body + b"\n-----END RSA PRIVATE KEY-----\n"
    data = b"-----BEGIN RSA PRIVATE KEY-----\n" * 50 + b"# -\n" * 5_000 + key
    found = d.scanner.scan_bytes(data, "k.pem")
    assert [(m.rule.id, m.line) for m in found] == [("private-key", 5_051)]


@pytest.mark.parametrize(
    "text",
    [
        "|1 a" + " " * 3000 + "x",
        "|2 A=1 B=2 /bin/sh -c true",
        "|1  sh",
        "|1 PASSWORD=hunter22x\n /bin/sh -c x",
        " ENV" * 2000 + "\nx",
        "/bin/sh -c #(nop) ENV TOKEN=abcdefgh",
        "ENV\n\n  TOKEN=abcdefgh\n",
        "RUN x\nARG SECRET=abcdefgh",
    ],
)
def test_history_assignments_match_old_regexes(text: str) -> None:
    want: list[tuple[str, str]] = []
    m = _OLD_ARGS.match(text)
    if m:
        want += [(k.group(1), k.group(2)) for k in det._KV.finditer(m.group(1))]
    m = _OLD_ENV.search(text)
    if m:
        pairs = [(k.group(1), k.group(2)) for k in det._KV.finditer(m.group(2))]
        if pairs:
            want += pairs
        elif m.group(1) == "ENV" and len(m.group(2).split(None, 1)) == 2:
            want.append(tuple(m.group(2).split(None, 1)))  # type: ignore[arg-type]
    assert list(_history_assignments(text)) == want


def test_history_hostile_sanitize(d: LeakDetector) -> None:
    text = "|1 a" + " " * 20000 + "x"
    assert d.sanitize(text) == text
    text = " ENV" * 25000 + "\nx"
    assert d.sanitize(text) == text
    assert det._env_arg_from(text) >= len(text) - 8  # the search skips the earlier lines


def test_line_numbers_of_matches_in_any_order_are_right(d: LeakDetector) -> None:
    # a match found in a window that began before the last counted one is numbered by
    # counting back from that one (from the buffer's start it was quadratic on one line)
    import random

    rng = random.Random(3)
    pieces = [
        b"http://a:bbb@x ",
        b"ghp_" + b"A" * 36 + b" ",
        b"\n",
        b"filler ",
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b"Q" * 64 + b"\n-----END RSA PRIVATE KEY-----\n",
        b"password=hunter2hunter2 ",
    ]
    total = 0
    for _ in range(50):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 300)))
        for m in d.scanner.scan_chunks([data], "x.txt"):
            total += 1
            assert m.line == data.count(b"\n", 0, m.offset) + 1
    assert total > 1000
