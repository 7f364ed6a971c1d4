"""The content scanner: one linear pass of a keyword automaton, then rule regexes on the lines it hits.

Hyperscan (when installed) finds every keyword of every rule, case-insensitively, in
one pass over the bytes; only the lines around those hits are handed to the rules'
own regexes. Cost is therefore linear in the bytes scanned plus the number of keyword
hits, never a regex backtracking over a whole file. Without hyperscan, the same
prefilter runs as ``bytes.find`` over a lowercased copy (correct, slower).
Files are scanned in chunks with an overlap, so memory stays bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from customhouse.leaks.rules import Rule, entropy

CHUNK = 8 << 20
OVERLAP = 32 << 10  # longer than any single match window
LINE_CAP = 4096  # bytes of a line considered on each side of a keyword hit
# A hit at least this far before the end of the rule's last searched window is skipped:
# its match (a secret reaches far less than this past its keyword) was already searched.
SKIP_GUARD = 3 * LINE_CAP // 4
_PEM_BODY = re.compile(rb"[A-Za-z0-9+/=]{64,}")


@dataclass(frozen=True, slots=True)
class Match:
    rule: Rule
    offset: int  # absolute byte offset of the match start
    line: int  # 1-based
    secret: str
    extra: dict[str, str]


def _hyperscan_db(patterns: Sequence[tuple[bytes, bool, int]]) -> Any:
    """Compile (or load a compiled copy from the user cache: compiling costs ~0.2 s a set)."""
    import hashlib

    import hyperscan

    key = hashlib.sha256(
        repr((getattr(hyperscan, "__version__", ""), [(p, c) for p, c, _ in patterns])).encode()
    ).hexdigest()[:24]
    from customhouse.dirs import cache_dir

    path = cache_dir() / "hyperscan" / f"{key}.db"
    try:
        loaded = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
        loaded.scratch = hyperscan.Scratch(loaded)
        return loaded
    except Exception:  # absent, unreadable or from another build: compile
        pass
    db = hyperscan.Database()
    db.compile(
        expressions=[p for p, _, _ in patterns],
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[hyperscan.HS_FLAG_CASELESS if c else 0 for _, c, _ in patterns],
    )
    try:
        import os
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(hyperscan.dumpb(db))
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written is only slower
    return db


class _Prefilter:
    """Prefilter hits as (position, rule index) for a fixed set of rules.

    A rule's ``keywords`` are literals matched case-insensitively; its ``prefilter``
    entries are regexes (hyperscan syntax, a subset of Python's), for rules whose
    literal would be too common (``sg.``, ``asia``, ``://``).
    """

    def __init__(self, rules: Sequence[Rule], enabled: Sequence[int]) -> None:
        self.patterns: list[tuple[bytes, bool, int]] = []  # (regex, caseless, literal length or 0)
        self.owner: list[int] = []
        for ri in enabled:
            rule = rules[ri]
            for kw in rule.keywords:
                self.patterns.append((re.escape(kw), True, len(kw)))
                self.owner.append(ri)
            for rx in rule.prefilter:
                caseless = rx.startswith(b"(?i)")
                self.patterns.append((rx[4:] if caseless else rx, caseless, 0))
                self.owner.append(ri)
        self._db: Any = None
        self._py: list[re.Pattern[bytes]] = []
        try:
            self._db = _hyperscan_db(self.patterns)
        except Exception:  # not installed, no SIMD support, or a pattern it refuses: fall back
            self._db = None
            self._py = [re.compile((b"(?i)" if c else b"") + p) for p, c, _ in self.patterns]

    @property
    def engine(self) -> str:
        return "hyperscan" if self._db is not None else "python"

    def hits(self, data: bytes) -> list[tuple[int, int]]:
        """(position inside the matched text, rule index), in no particular order."""
        out: list[tuple[int, int]] = []
        if not self.patterns:
            return out
        owner = self.owner
        if self._db is not None:
            pats = self.patterns

            def on_match(pid: int, _from: int, to: int, _flags: int, _ctx: object) -> bool | None:
                n = pats[pid][2]
                out.append((to - n if n else to - 1, owner[pid]))
                return None

            self._db.scan(data, match_event_handler=on_match)
            return out
        for pid, rx in enumerate(self._py):
            out.extend((m.start(), owner[pid]) for m in rx.finditer(data))
        return out


class ContentScanner:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = [r for r in rules if r.kind == "content"]
        self._global = tuple(i for i, r in enumerate(self.rules) if r.paths is None)
        self._scoped = [(i, r.paths) for i, r in enumerate(self.rules) if r.paths is not None]
        self._prefilters: dict[tuple[int, ...], _Prefilter] = {}

    @property
    def engine(self) -> str:
        return self._prefilter(self._global).engine

    def _prefilter(self, enabled: tuple[int, ...]) -> _Prefilter:
        pre = self._prefilters.get(enabled)
        if pre is None:
            pre = self._prefilters[enabled] = _Prefilter(self.rules, enabled)
        return pre

    def applicable(self, path: str) -> tuple[int, ...]:
        """Indices of the rules that apply to a file at ``path`` (scoped rules by their globs)."""
        extra = tuple(i for i, paths in self._scoped if path and paths.match(path))
        return tuple(sorted(self._global + extra)) if extra else self._global

    def scan_chunks(self, chunks: Iterable[bytes | memoryview], path: str) -> Iterator[Match]:
        """Scan a file given as a stream of byte chunks (any sizes)."""
        enabled = self.applicable(path)
        if not enabled:
            return
        pre = self._prefilter(enabled)
        buf = b""
        base = 0  # absolute offset of buf[0]
        lines_before = 0  # newlines before buf[0]
        seen: set[tuple[int, int]] = set()
        for chunk in chunks:
            buf += bytes(chunk)
            if len(buf) < CHUNK:
                continue
            limit = len(buf) - OVERLAP  # matches starting beyond this are found next round
            yield from self._scan(pre, buf, base, lines_before, limit, seen)
            cut = limit
            lines_before += buf.count(b"\n", 0, cut)
            base += cut
            buf = buf[cut:]
        if buf:
            yield from self._scan(pre, buf, base, lines_before, len(buf), seen)

    def scan_bytes(self, data: bytes, path: str = "") -> list[Match]:
        return list(self.scan_chunks([data], path))

    def _scan(
        self,
        pre: _Prefilter,
        buf: bytes,
        base: int,
        lines_before: int,
        limit: int,
        seen: set[tuple[int, int]],
    ) -> Iterator[Match]:
        hits = pre.hits(buf)
        if not hits:
            return
        hits.sort()
        line_no = lines_before
        counted_to = 0
        tried: set[tuple[int, int]] = set()  # (rule, window start) already searched
        searched_to: dict[int, int] = {}  # rule -> end of its last searched window
        # (rule, match spans) that _accept refused: the same match is refused again
        rejected: set[tuple[int, tuple[tuple[int, int], ...]]] = set()
        for pos, ri in hits:
            if pos >= limit:
                break
            # Window starts and ends only grow with pos, so without this a long line (or a
            # run of header lines for a windowed rule) would search the same bytes per hit.
            done = searched_to.get(ri, -1)
            if pos + SKIP_GUARD <= done:
                continue
            line_start = buf.rfind(b"\n", max(0, pos - LINE_CAP), pos) + 1
            if line_start == 0 and pos > LINE_CAP:
                line_start = pos - LINE_CAP
            if (ri, line_start) in tried:
                continue
            tried.add((ri, line_start))
            rule = self.rules[ri]
            if rule.window:
                end = min(len(buf), line_start + rule.window)
            else:
                nl = buf.find(b"\n", pos, pos + LINE_CAP)
                end = nl if nl >= 0 else min(len(buf), pos + LINE_CAP)
            if end <= done:
                continue  # a suffix of the window already searched (clipped at a line end)
            searched_to[ri] = end
            assert rule.regex is not None
            for m in rule.regex.finditer(buf, line_start, end):
                start = m.start()
                if (ri, base + start) in seen:
                    continue
                key = (ri, m.regs)
                if key in rejected:
                    continue
                found = self._accept(rule, m, buf)
                if found is None:
                    rejected.add(key)
                    continue
                seen.add((ri, base + start))
                if start >= counted_to:
                    line_no += buf.count(b"\n", counted_to, start)
                    counted_to = start
                    line = line_no + 1
                else:  # a window that began before the last counted match: count back
                    # from it (from the buffer's start, one long line of matches was
                    # quadratic: 1 MB of URLs with credentials took 7 to 17 s)
                    line = line_no - buf.count(b"\n", start, counted_to) + 1
                secret, extra = found
                yield Match(rule, base + start, line, secret, extra)

    @staticmethod
    def _accept(rule: Rule, m: re.Match[bytes], buf: bytes) -> tuple[str, dict[str, str]] | None:
        secret = m.group("secret").decode("utf-8", "replace")
        extra = {
            k: v.decode("utf-8", "replace") for k, v in m.groupdict().items() if v and k != "secret"
        }
        if rule.check == "pem-body":
            kind = extra.get("kind", "")
            tail = buf[m.end("secret") - len(m.group("secret")) : m.end() + rule.window]
            body = tail.split(b"-----END", 1)[0]
            # a real key has a base64 body; a bare header in docs or code does not
            if not _PEM_BODY.search(body.replace(b"\n", b"").replace(b"\r", b"")):
                return None
            encrypted = "ENCRYPTED" in kind or b"Proc-Type: 4,ENCRYPTED" in body
            if kind == "OPENSSH PRIVATE KEY" and b"bcrypt" in _b64_head(body):
                encrypted = True
            extra["encrypted"] = "yes" if encrypted else "no"
            secret = body.strip()[:64].decode("ascii", "replace")
        if rule.allow is not None and rule.allow.search(secret):
            return None
        if rule.entropy and entropy(secret) < rule.entropy:
            return None
        return secret, extra


def _b64_head(body: bytes) -> bytes:
    import base64
    import binascii

    text = b"".join(body.split())[:96]
    try:
        return base64.b64decode(text[: len(text) // 4 * 4])
    except (binascii.Error, ValueError):
        return b""
