"""RubyGems: the ``specifications/*.gemspec`` files RubyGems writes for installed gems.

They are Ruby source (``Gem::Specification#to_ruby``)::

    Gem::Specification.new do |s|
      s.name = "rake".freeze
      s.version = "13.0.6"
      s.licenses = ["MIT".freeze]
      ...

Nothing is executed: a small, tolerant reader takes the assignments to ``name``,
``version``, ``platform`` and ``license``/``licenses`` of the block variable. Values
are Ruby string literals (``"..."``, ``'...'``, ``%q{...}``, with or without
``.freeze``), arrays of them, or ``Gem::Version.new("...")``/``.create``. The
``# stub: NAME VERSION PLATFORM PATHS`` comment RubyGems writes on line 2, then the
file name (``NAME-VERSION.gemspec``), fill in what the assignments leave out.

They live under ``…/specifications/`` (``/usr/lib/ruby/gems/3.1.0/specifications/``,
its ``default/`` subdirectory, ``/var/lib/gems/*/``, ``/usr/local/bundle/``, Debian's
``/usr/share/rubygems-integration/``); other ``*.gemspec`` files (a gem's own source
tree) are programs, not records of an installation, and are not read.
"""

from __future__ import annotations

import re

from customhouse.catalog.interface import GEM, FileResult, Package, Wants
from customhouse.catalog.purl import PurlError, purl

__all__ = ["GemCataloger", "GemSpec", "parse_gemspec"]

_ASSIGN = re.compile(r"^\s*([a-z_]\w*)\.(name|version|platform|licenses?)\s*=\s*(.*)$")
_STUB = re.compile(r"^#\s*stub:\s+(\S+)\s+(\S+)\s+(\S+)")
_VERSION_CALL = re.compile(r"^Gem::Version\.(?:new|create)\s*\(?\s*")
_UNICODE = re.compile(r"\{([0-9a-fA-F ]+)\}|([0-9a-fA-F]{4})")
_PERCENT_CLOSE = {"{": "}", "(": ")", "[": "]", "<": ">"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "s": " ", "e": "\x1b", "0": "\0", "a": "\a", "b": "\b"}
_MAX_LINES = 20_000


class GemSpec:
    """What was read from one gemspec."""

    __slots__ = ("licenses", "name", "platform", "version")

    def __init__(self) -> None:
        self.name = ""
        self.version = ""
        self.platform = ""
        self.licenses: list[str] = []


def _string(text: str, at: int) -> tuple[str, int] | None:
    """A Ruby string literal starting at ``text[at]``: (value, index after it)."""
    if at >= len(text):
        return None
    q = text[at]
    if q in "\"'":
        out: list[str] = []
        i = at + 1
        while i < len(text):
            c = text[i]
            if c == q:
                return "".join(out), i + 1
            if c == "\\" and i + 1 < len(text):
                n = text[i + 1]
                if q == "'":
                    out.append(n if n in "'\\" else "\\" + n)
                    i += 2
                    continue
                if n == "u":
                    # (matched in place: a slice from here copied the rest of the text
                    # for every \u, 25 s for 2 MB of them)
                    m = _UNICODE.match(text, i + 2)
                    if m:
                        codes = [int(h, 16) for h in (m.group(1) or m.group(2)).split()]
                        if max(codes, default=0) <= 0x10FFFF:  # (else not a character)
                            out.extend(map(chr, codes))
                            i = m.end()
                            continue
                out.append(_ESCAPES.get(n, n))
                i += 2
                continue
            out.append(c)
            i += 1
        return None  # unterminated
    if q == "%" and text[at + 1 : at + 2] in ("q", "Q") and at + 2 < len(text):
        opener = text[at + 2]
        closer = _PERCENT_CLOSE.get(opener, opener)
        end = text.find(closer, at + 3)
        if end < 0:
            return None
        return text[at + 3 : end], end + 1
    return None


def _value(text: str) -> str | list[str] | None:
    """The value of ``text``: a string, an array of strings, or None if not a literal."""
    text = text.strip()
    m = _VERSION_CALL.match(text)
    if m:
        text = text[m.end() :]
    if text.startswith("["):
        items: list[str] = []
        i = 1
        while i < len(text):
            c = text[i]
            if c in " \t,":
                i += 1
                continue
            if c == "]":
                return items
            lit = _string(text, i)
            if lit is None:
                if text.startswith("nil", i):
                    i += 3
                    continue
                return None
            items.append(lit[0])
            i = lit[1]
            if text.startswith(".freeze", i):
                i += len(".freeze")
        return None
    lit = _string(text, 0)
    return lit[0] if lit is not None else None


def parse_gemspec(text: str) -> GemSpec:
    spec = GemSpec()
    stub: tuple[str, str, str] | None = None
    lines = text.splitlines()[:_MAX_LINES]
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if stub is None and line.startswith("#"):
            m = _STUB.match(line)
            if m:
                stub = (m.group(1), m.group(2), m.group(3))
            continue
        m = _ASSIGN.match(line)
        if not m:
            continue
        attr, rhs = m.group(2), m.group(3)
        # an array literal may continue on the next lines
        while rhs.lstrip().startswith("[") and "]" not in rhs and i < len(lines):
            rhs += " " + lines[i].strip()
            i += 1
        value = _value(rhs)
        if value is None:
            continue
        if attr in ("license", "licenses"):
            items = [value] if isinstance(value, str) else value
            # in order, without repeats (a dict: a hostile list's repeats cost O(1) each)
            spec.licenses = list(dict.fromkeys([*spec.licenses, *filter(None, items)]))
        elif isinstance(value, str):
            setattr(spec, attr, value)
    if stub is not None:
        spec.name = spec.name or stub[0]
        spec.version = spec.version or stub[1]
        spec.platform = spec.platform or stub[2]
    return spec


def _from_file_name(path: str, name: str) -> str:
    base = path.rsplit("/", 1)[-1].removesuffix(".gemspec")
    if name and base.startswith(name + "-"):
        rest = base[len(name) + 1 :]
        return rest.split("-", 1)[0]
    return ""


class GemCataloger:
    name = "gem"
    version = 1
    max_bytes = 4 * 1024 * 1024
    wants = Wants(suffixes=(".gemspec",))

    def match(self, path: str, mode: int, size: int) -> bool:
        return path.endswith(".gemspec") and "specifications/" in path

    def parse(self, path: str, data: bytes) -> FileResult:
        warnings: list[str] = []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            warnings.append(f"{path}: invalid UTF-8 at byte {e.start}; decoded with replacement")
            text = data.decode("utf-8", "replace")
        spec = parse_gemspec(text.lstrip("\ufeff"))
        version = spec.version or _from_file_name(path, spec.name)
        if not spec.name or not version:
            missing = "name" if not spec.name else "version"
            warnings.append(f"{path}: no gem {missing} found in the specification")
            return FileResult(warnings=warnings)
        platform = spec.platform if spec.platform and spec.platform != "ruby" else ""
        try:
            url = purl(
                GEM, spec.name, version, qualifiers={"platform": platform} if platform else None
            )
        except PurlError as e:
            warnings.append(f"{path}: {e}")
            return FileResult(warnings=warnings)
        extra: dict[str, str] = {}
        if platform:
            extra["platform"] = platform
        if "/specifications/default/" in f"/{path}":
            extra["default_gem"] = "true"
        pkg = Package(
            ecosystem=GEM,
            name=spec.name,
            version=version,
            purl=url,
            path=path,
            licenses=tuple(spec.licenses),
            extra=extra,
        )
        return FileResult(packages=[pkg], warnings=warnings)
