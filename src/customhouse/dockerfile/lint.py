"""Apply the rules to a Dockerfile (or an image history) and collect findings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from customhouse.dockerfile.config import LintConfig
from customhouse.dockerfile.model import Dockerfile, Instruction, Stage
from customhouse.dockerfile.parse import parse_path, parse_text
from customhouse.dockerfile.rules import RULES, Context, Rule, Severity


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One problem: which rule, where, and why."""

    path: str
    line: int
    rule: str
    severity: Severity
    title: str
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "title": self.title,
            "path": self.path,
            "line": self.line,
            "message": self.message,
        }


def lint(dockerfile: Dockerfile, config: LintConfig | None = None) -> list[Finding]:
    """Every finding of the enabled rules on ``dockerfile``, in line order."""
    config = config or LintConfig()
    ctx = Context(dockerfile, config.settings)
    return _apply(ctx, config, [r for r in RULES])


def lint_text(
    text: str, *, path: str = "Dockerfile", config: LintConfig | None = None
) -> list[Finding]:
    return lint(parse_text(text, path=path), config)


def lint_path(path: str | Path, config: LintConfig | None = None) -> list[Finding]:
    return lint(parse_path(path), config)


def _apply(ctx: Context, config: LintConfig, rules: Sequence[Rule]) -> list[Finding]:
    dockerfile = ctx.dockerfile
    ignored = _ignored_lines(dockerfile)
    findings: set[Finding] = set()
    for r in rules:
        if r.id in config.ignore or r.severity < config.severity:
            continue
        for hit in r.check(ctx):
            if r.id in ignored.get(hit.line, ()):
                continue
            findings.add(Finding(dockerfile.path, hit.line, r.id, r.severity, r.title, hit.message))
    return sorted(findings)


def _ignored_lines(dockerfile: Dockerfile) -> dict[int, frozenset[str]]:
    """Line -> rules ignored there: an ignore comment covers its own line, the
    instruction right below it (through further comment lines), and every line of
    the instruction it sits in."""
    spans: list[tuple[int, int]] = [
        (ins.start_line, ins.end_line)
        for stage in dockerfile.stages
        for ins in stage.all_instructions()
    ]
    spans += [(ins.start_line, ins.end_line) for ins in dockerfile.prelude]
    out: dict[int, set[str]] = {}
    for line, ids in dockerfile.ignores:
        targets = {line}
        below = line + 1
        while below in dockerfile.comment_lines:
            below += 1
        for start, end in spans:
            if start <= line <= end or start == below:
                targets.update(range(start, end + 1))
        for t in targets:
            out.setdefault(t, set()).update(ids)
    return {k: frozenset(v) for k, v in out.items()}


# --- image history -----------------------------------------------------------------

_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_SHELL_PREFIX = re.compile(
    r"^(?:\|(\d+)\s+)?((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)(/bin/sh|/bin/bash|cmd /S /C|powershell[^ ]*) -c\s",
    re.I,
)
_BUILDKIT_SUFFIX = " # buildkit"


def lint_history(
    created_by: Sequence[str], config: LintConfig | None = None, *, path: str = "<history>"
) -> list[Finding]:
    """Apply the rules that make sense without a Dockerfile to an image's history.

    ``created_by`` are the history entries of an image config, oldest first. Line
    numbers in the findings are 1-based indexes into that list. Build arguments
    recorded in the ``|N NAME=value`` prefix are checked as ARGs.
    """
    config = config or LintConfig()
    instructions = [
        ins
        for index, entry in enumerate(created_by, start=1)
        for ins in _history_instruction(entry, index)
    ]
    from_ins = Instruction("FROM", ("scratch",), (), False, "FROM scratch", 0, 0)
    stage = Stage(0, None, "scratch", None, None, from_ins, tuple(instructions))
    dockerfile = Dockerfile(path, (), "\\", (), (), (stage,))
    ctx = Context(dockerfile, config.settings, from_history=True)
    return _apply(ctx, config, [r for r in RULES if r.history])


# ``key=value`` pairs of a history ENV/LABEL, as ``(\S+?)=("(?:[^"\\]|\\.)*"|\S*)`` finds
# them; the second branch swallows a run with no ``=`` in one step, where that pattern
# retried it from each of its characters (quadratic in a long token)
_HISTORY_PAIR = re.compile(r'(\S[^\s=]*)=("(?:[^"\\]|\\.)*"|\S*)|\S[^\s=]*')


def _history_instruction(entry: str, index: int) -> Iterable[Instruction]:
    text = entry.strip()
    if text.endswith(_BUILDKIT_SUFFIX):
        text = text[: -len(_BUILDKIT_SUFFIX)].rstrip()
    nop = _NOP.match(text)
    if nop:
        text = text[nop.end() :]
    elif text.startswith("RUN "):
        text = text[4:]
    m = _SHELL_PREFIX.match(text)
    if m or (not nop and text and not re.match(r"^[A-Z]+\s", text)):
        if m and m.group(2):
            pairs = m.group(2).split()
            yield Instruction(
                "ARG", tuple(pairs), (), False, "ARG " + " ".join(pairs), index, index
            )
        script = text[m.end() :] if m else text
        yield Instruction("RUN", (script,), (), False, "RUN " + script, index, index)
        return
    keyword, _, rest = text.partition(" ")
    keyword = keyword.upper()
    rest = rest.strip()
    if keyword in {"ENV", "LABEL"}:
        args: list[str] = []
        for m in _HISTORY_PAIR.finditer(rest):
            if m.group(1) is not None:
                args.extend(m.group(1, 2))
        yield Instruction(keyword, tuple(args), (), False, text, index, index)
    elif keyword == "EXPOSE":
        ports = re.findall(r"(\d+(?:-\d+)?/\w+|\d+)", rest)
        yield Instruction("EXPOSE", tuple(ports), (), False, text, index, index)
    elif keyword in {"USER", "WORKDIR", "ARG", "CMD", "ENTRYPOINT", "HEALTHCHECK", "SHELL"}:
        yield Instruction(keyword, tuple(rest.split()) or ("",), (), False, text, index, index)
    elif keyword in {"ADD", "COPY"}:
        # "ADD file:<hash> in /dest" / "COPY dir:<hash> in /dest" / "ADD https://x /dest"
        parts = rest.replace(" in ", " ").split()
        if len(parts) >= 2:
            yield Instruction(keyword, tuple(parts), (), False, text, index, index)
