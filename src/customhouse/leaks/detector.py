"""Find leaks in every layer of an image (deleted files included), its config and its history."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from customhouse.leaks.engine import ContentScanner, Match
from customhouse.leaks.rules import Rule, default_rules
from customhouse.limits import DEFAULT_LIMITS, Limits
from customhouse.sources.interface import Image, Layer

BINARY_SNIFF = 8192
MAX_SCAN_BYTES = 512 << 20

_ENV_NAME = re.compile(
    r"(?i)(?:^|_)(?:pass(?:word|wd)?|pwd|secret|token|api_?key|access_?key|private_?key|credentials?|auth_?token)(?:$|_)"
)
_PLACEHOLDER = re.compile(
    r"(?i)^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|<[^>]*>|changeme|x+|\*+|none|null|true|false|yes|no)?$"
)
_KV = re.compile(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S+)")

ENV_RULE = Rule(
    id="secret-in-env",
    title="Secret-looking value in an environment variable, build argument or label",
    severity="HIGH",
    kind="config",
)


@dataclass(frozen=True, slots=True)
class LeakFinding:
    rule_id: str
    title: str
    severity: str
    location: str  # file | env | label | cmd | history
    redacted: str
    fingerprint: str
    path: str | None = None
    line: int | None = None
    layer: int | None = None
    layer_diff_id: str | None = None
    status: str = "present"  # present | deleted-in-later-layer | config
    removed_in_layer: int | None = None
    history: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "rule": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "location": self.location,
            "status": self.status,
            "match": self.redacted,
            "fingerprint": self.fingerprint,
        }
        for k in ("path", "line", "layer", "layer_diff_id", "removed_in_layer", "history"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        if self.extra:
            d["extra"] = dict(self.extra)
        return d


@dataclass
class LeakReport:
    findings: list[LeakFinding]
    files_scanned: int = 0
    bytes_scanned: int = 0
    skipped: list[str] = field(default_factory=list)
    engine: str = ""


def redact(secret: str) -> str:
    """Enough to recognise a secret, never enough to use it."""
    s = secret.strip()
    if len(s) <= 12:
        return "*" * 8
    keep = min(4, len(s) // 6)
    return s[:keep] + "*" * 8


def fingerprint(rule_id: str, where: str, line: int | None) -> str:
    h = hashlib.sha256(f"{rule_id}\0{where}\0{line or 0}".encode()).hexdigest()
    return f"{rule_id}:{h[:16]}"


class LeakDetector:
    def __init__(self, rules: Sequence[Rule] | None = None) -> None:
        self.rules = list(rules if rules is not None else default_rules())
        self.scanner = ContentScanner(self.rules)
        self.file_rules = [r for r in self.rules if r.kind == "file"]
        self._clean: dict[str, str] = {}

    def sanitize(self, text: str | None) -> str | None:
        """``text`` (a history line) with every secret the rules recognise redacted."""
        if text is None:
            return None
        cached = self._clean.get(text)
        if cached is not None:
            return cached
        secrets = [
            m.secret for m in self.scanner.scan_bytes(text.encode("utf-8", "surrogateescape"), "")
        ]
        for name, value in _history_assignments(text):
            value = value.strip().strip("\"'")
            if _ENV_NAME.search(name) and not _PLACEHOLDER.match(value) and len(value) >= 4:
                secrets.append(value)
        clean = text
        for secret in sorted(set(secrets), key=len, reverse=True):
            if secret:
                clean = clean.replace(secret, redact(secret))
        self._clean[text] = clean
        return clean

    # -- files -------------------------------------------------------------
    def scan_image(
        self,
        image: Image,
        *,
        limits: Limits = DEFAULT_LIMITS,
        progress: Callable[[Layer, int], None] | None = None,
    ) -> LeakReport:
        from customhouse.walk.entry import Kind
        from customhouse.walk.layers import Walk

        report = LeakReport(findings=[], engine=self.scanner.engine)
        layers = {layer.index: layer for layer in image.layers}
        seen_git: set[tuple[str, int]] = set()
        for entry, content in Walk(image, limits=limits, progress=progress):
            if entry.kind is not Kind.FILE or content is None:
                continue
            layer = layers.get(entry.layer)
            ctx = _FileContext(entry, layer, self.sanitize)
            for rule in self.file_rules:
                if self._file_rule_hits(rule, entry.path, entry.size):
                    where = entry.path
                    if rule.id == "git-directory":
                        where = entry.path[: -len("/config")]
                        if (where, entry.layer) in seen_git:
                            continue
                        seen_git.add((where, entry.layer))
                    report.findings.append(ctx.finding(rule, None, where, None))
            if entry.size == 0:
                continue
            if entry.size > MAX_SCAN_BYTES:
                report.skipped.append(
                    f"{entry.path}: {entry.size} bytes, larger than the scan limit"
                )
                continue
            chunks = iter(content.read_chunks())
            first: bytes | memoryview = bytes(next(chunks, b""))
            if b"\0" in first[:BINARY_SNIFF]:
                continue  # binary: content rules target text
            report.files_scanned += 1
            report.bytes_scanned += entry.size
            for m in self.scanner.scan_chunks(chain([first], chunks), entry.path):
                report.findings.append(ctx.finding(m.rule, m, entry.path, m.line))
        return report

    @staticmethod
    def _file_rule_hits(rule: Rule, path: str, size: int) -> bool:
        if rule.files is None or not rule.files.match(path):
            return False
        if rule.exclude is not None and rule.exclude.match(path):
            return False
        return size >= rule.min_size

    # -- config and history ------------------------------------------------
    def scan_config(self, image: Image) -> list[LeakFinding]:
        cfg = image.config
        if cfg is None:
            return []
        out: list[LeakFinding] = []
        for i, env in enumerate(cfg.env):
            out.extend(self._text_findings(env, "env", f"Env[{i}]", None, None))
            name, _, value = env.partition("=")
            out.extend(self._kv_findings(name, value, "env", f"Env[{i}]", None, None))
        for k, v in cfg.labels.items():
            out.extend(self._text_findings(f"{k}={v}", "label", f"Labels[{k}]", None, None))
            out.extend(self._kv_findings(k, v, "label", f"Labels[{k}]", None, None))
        for name, argv in (("Entrypoint", cfg.entrypoint), ("Cmd", cfg.cmd)):
            if argv:
                out.extend(self._text_findings(" ".join(argv), "cmd", name, None, None))
        layer_of = self._history_layers(image)
        for i, h in enumerate(cfg.history):
            if not h.created_by:
                continue
            idx = layer_of.get(i)
            where = f"history[{i}]"
            clean = self.sanitize(h.created_by)
            out.extend(self._text_findings(h.created_by, "history", where, idx, clean, image))
            for name, value in _history_assignments(h.created_by):
                out.extend(self._kv_findings(name, value, "history", where, idx, clean, image))
        return _dedupe(out)

    @staticmethod
    def _history_layers(image: Image) -> dict[int, int]:
        """history index -> layer index (for entries that made a layer)."""
        out: dict[int, int] = {}
        n = 0
        if image.config is None:
            return out
        for i, h in enumerate(image.config.history):
            if not h.empty_layer:
                out[i] = n
                n += 1
        return out if n == len(image.layers) else {}

    def _text_findings(
        self,
        text: str,
        location: str,
        where: str,
        layer: int | None,
        history: str | None,
        image: Image | None = None,
    ) -> Iterator[LeakFinding]:
        for m in self.scanner.scan_bytes(text.encode("utf-8", "surrogateescape"), ""):
            yield _config_finding(m.rule, m.secret, location, where, layer, history, image, m.extra)

    def _kv_findings(
        self,
        name: str,
        value: str,
        location: str,
        where: str,
        layer: int | None,
        history: str | None,
        image: Image | None = None,
    ) -> Iterator[LeakFinding]:
        value = value.strip().strip("\"'")
        if not _ENV_NAME.search(name) or _PLACEHOLDER.match(value) or len(value) < 4:
            return
        yield _config_finding(
            ENV_RULE, value, location, where, layer, history, image, {"name": name}
        )


_BUILD_ARGS = re.compile(r"\|\d+")
_WS_RUN = re.compile(r"\s+")
_WS = re.compile(r"\s*")
_SHELL = re.compile(r"(?:/bin/sh|/bin/bash|sh|bash|cmd)\b")
_ENV_ARG = re.compile(r"(?:^|#\(nop\)\s+|\s)(ENV|ARG)\s+(.*)$")


def _build_args(text: str) -> str | None:
    r"""Group 1 of ``^\|\d+\s+(.*?)\s+(?:/bin/sh|/bin/bash|sh|bash|cmd)\b``, in linear time.

    The regex backtracks quadratically over long whitespace runs. Its first match: the
    group starts after the whole whitespace run following the digits and ends at the first
    later whitespace run followed by a shell word (``.`` stops it at a newline); failing
    that, one character earlier (still inside that run), where it is empty if a shell word
    follows the run.
    """
    m = _BUILD_ARGS.match(text)
    if m is None:
        return None
    p0 = m.end()
    ws = _WS.match(text, p0)
    assert ws is not None  # \s* always matches
    w_end = ws.end()
    if w_end == p0:
        return None
    for run in _WS_RUN.finditer(text, w_end):
        if _SHELL.match(text, run.end()):
            return text[w_end : run.start()]
        if "\n" in run.group():
            break
    if w_end - p0 >= 2 and _SHELL.match(text, w_end):
        return ""
    return None


def _env_arg_from(text: str) -> int:
    """Where ``_ENV_ARG.search`` can start without changing its answer.

    ``(.*)$`` (no MULTILINE) reaches the end of the text, so the ENV/ARG word is on the last
    line, or is followed by whitespace only up to it: its match starts at most four
    characters before the whitespace run that ends the line before the last. Starting
    there keeps the regex from trying every earlier line to the end (quadratic).
    """
    end = len(text) - 1 if text.endswith("\n") else len(text)
    nl = text.rfind("\n", 0, end)
    if nl < 0:
        return 0
    k = len(text[:nl].rstrip())  # str.isspace is the whitespace of \s in a str pattern
    return max(0, k - 4)


def _history_assignments(created_by: str) -> Iterator[tuple[str, str]]:
    """KEY=VALUE pairs of build args (``|2 A=1 B=2 /bin/sh -c``), ENV and ARG lines."""
    text = created_by
    args = _build_args(text)
    if args is not None:
        for km in _KV.finditer(args):
            yield km.group(1), km.group(2)
    m = _ENV_ARG.search(text, _env_arg_from(text))
    if m:
        body = m.group(2)
        pairs = list(_KV.finditer(body))
        if pairs:
            for km in pairs:
                yield km.group(1), km.group(2)
        elif m.group(1) == "ENV":
            parts = body.split(None, 1)  # legacy "ENV NAME value"
            if len(parts) == 2:
                yield parts[0], parts[1]


def _config_finding(
    rule: Rule,
    secret: str,
    location: str,
    where: str,
    layer: int | None,
    history: str | None,
    image: Image | None,
    extra: dict[str, str],
) -> LeakFinding:
    diff_id = None
    if image is not None and layer is not None and layer < len(image.layers):
        diff_id = str(image.layers[layer].diff_id)
    return LeakFinding(
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        location=location,
        redacted=redact(secret),
        fingerprint=fingerprint(rule.id, where, None),
        path=where,
        layer=layer,
        layer_diff_id=diff_id,
        status="config",
        history=history,
        extra={k: v for k, v in extra.items() if k in ("name", "kind", "encrypted")},
    )


class _FileContext:
    def __init__(
        self, entry: Any, layer: Layer | None, sanitize: Callable[[str | None], str | None]
    ) -> None:
        self.entry = entry
        self.layer = layer
        self.sanitize = sanitize

    def finding(self, rule: Rule, m: Match | None, where: str, line: int | None) -> LeakFinding:
        e = self.entry
        extra = {}
        if m is not None:
            extra = {k: v for k, v in m.extra.items() if k in ("kind", "encrypted", "key")}
            if "user" in m.extra:
                extra["user"] = m.extra["user"]
        secret = m.secret if m is not None else ""
        history = None
        if self.layer is not None and self.layer.history is not None:
            history = self.sanitize(self.layer.history.created_by)
        return LeakFinding(
            rule_id=rule.id,
            title=rule.title,
            severity=rule.severity,
            location="file",
            redacted=redact(secret) if m is not None else "(file present)",
            fingerprint=fingerprint(rule.id, where, line),
            path=where,
            line=line,
            layer=e.layer,
            layer_diff_id=str(self.layer.diff_id) if self.layer else None,
            status="present" if e.visible else "deleted-in-later-layer",
            removed_in_layer=e.hidden_by,
            history=history,
            extra=extra,
        )


def _dedupe(findings: list[LeakFinding]) -> list[LeakFinding]:
    seen = set()
    out = []
    for f in findings:
        key = (f.rule_id, f.path, f.redacted, f.location)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
