"""Leak rules: loaded from a data file, validated, compiled once."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from customhouse.errors import InputError

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


class RuleError(InputError):
    """A leak rule file is malformed."""


def glob_to_regex(pattern: str) -> str:
    """Translate a path glob (``**`` any depth, ``*`` within a segment, ``?``) to a regex."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_globs(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("(?:" + "|".join(f"(?:{glob_to_regex(p)})" for p in patterns) + r")\Z")


def entropy(s: str) -> float:
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    kind: str  # "content" | "file"
    keywords: tuple[bytes, ...] = ()
    prefilter: tuple[bytes, ...] = ()
    regex: re.Pattern[bytes] | None = None
    entropy: float = 0.0
    paths: re.Pattern[str] | None = None
    window: int = 0
    allow: re.Pattern[str] | None = None
    check: str | None = None
    files: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    contains: tuple[bytes, ...] = ()
    min_size: int = 0


def _rule(d: Any, where: str) -> Rule:
    if not isinstance(d, dict):
        raise RuleError(f"{where}: each rule must be a mapping")
    rid = d.get("id")
    if not isinstance(rid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", rid):
        raise RuleError(f"{where}: rule id {rid!r} must be lowercase words joined by '-'")
    where = f"{where} rule {rid}"
    sev = str(d.get("severity", "")).upper()
    if sev not in SEVERITIES:
        raise RuleError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    title = str(d.get("title") or rid)
    try:
        if "files" in d:
            return Rule(
                id=rid,
                title=title,
                severity=sev,
                kind="file",
                files=compile_globs(list(d["files"])),
                exclude=compile_globs(list(d.get("exclude") or [])),
                contains=tuple(str(k).lower().encode() for k in d.get("contains") or ()),
                min_size=int(d.get("min_size", 0)),
            )
        keywords = d.get("keywords") or []
        prefilter = d.get("prefilter") or []
        if (
            not isinstance(keywords, list)
            or not isinstance(prefilter, list)
            or not (keywords or prefilter)
        ):
            raise RuleError(f"{where}: a content rule needs keywords or prefilter regexes")
        for rx in prefilter:
            re.compile(str(rx))
        for k in keywords:
            if str(k) != str(k).lower():
                raise RuleError(f"{where}: keyword {k!r} must be lowercase")
        regex = re.compile(str(d["regex"]).encode())
        if "secret" not in regex.groupindex:
            raise RuleError(f"{where}: the regex needs a (?P<secret>...) group")
        return Rule(
            id=rid,
            title=title,
            severity=sev,
            kind="content",
            keywords=tuple(str(k).encode() for k in keywords),
            prefilter=tuple(str(p).encode() for p in prefilter),
            regex=regex,
            entropy=float(d.get("entropy", 0.0)),
            paths=compile_globs(list(d.get("paths") or [])),
            window=int(d.get("window", 0)),
            allow=re.compile(d["allow"]) if d.get("allow") else None,
            check=d.get("check"),
        )
    except (re.error, KeyError, TypeError, ValueError) as e:
        raise RuleError(f"{where}: {e}") from None


def parse_rules(doc: Any, where: str) -> list[Rule]:
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise RuleError(f"{where}: expected a mapping with a 'rules' list")
    rules = [_rule(d, where) for d in doc["rules"]]
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuleError(f"{where}: duplicate rule ids {sorted(dupes)}")
    return rules


@lru_cache(maxsize=1)
def default_rules() -> tuple[Rule, ...]:
    import yaml

    text = resources.files("customhouse.leaks").joinpath("rules.yaml").read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(parse_rules(yaml.load(text, Loader=loader), "built-in rules.yaml"))
