"""apk: Alpine (and other apk-tools) packages, from ``lib/apk/db/installed``.

The database is a text file of stanzas separated by blank lines; each line is one
letter, a colon and a value (apk-tools' "installed database" format). Fields used:

``P`` name, ``V`` version, ``A`` architecture, ``o`` origin (the source package),
``L`` license (one expression, kept as written), ``T`` description, ``U`` URL,
``m`` maintainer, ``t`` build time, ``c`` aports commit, ``F`` a directory of the
package and ``R`` a file in the last ``F`` directory (owned files are the directories
and ``F/R``). Every other letter is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator

from customhouse.catalog._problems import Problems, numbered_lines
from customhouse.catalog.interface import APK, FileResult, Package, Wants
from customhouse.catalog.purl import PurlError, purl
from customhouse.limits import DEFAULT_LIMITS

__all__ = ["ApkCataloger"]

_INSTALLED = "lib/apk/db/installed"
_EXTRA = {"T": "description", "U": "url", "m": "maintainer", "t": "build_time", "c": "commit"}
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+._-")


def _lines(data: bytes, problems: Problems) -> Iterator[tuple[int, str]]:
    # surrogateescape keeps F:/R: paths equal to the tar reader's names
    return numbered_lines(data, problems, errors="surrogateescape", note="invalid UTF-8")


class _Record:
    __slots__ = ("dir", "fields", "files", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self.fields: dict[str, str] = {}
        self.files: list[str] = []
        self.dir: str | None = None


_MAX_PATH = DEFAULT_LIMITS.max_path_bytes  # (no file in a layer has a longer path)


def _records(data: bytes, problems: Problems) -> list[_Record]:
    out: list[_Record] = []
    rec: _Record | None = None
    # Each R: line names a file of the last F: directory, and its path repeats that
    # directory: 250,000 "R:x" lines under one F: of 10,000 characters (1 MB) made 2.5 GB
    # of paths. Real databases list fewer path characters than they hold (0.4x for
    # Alpine 3.20's); past 4x, the files are left out (the packages are kept).
    budget = 4 * len(data) + (1 << 20)
    for n, line in _lines(data, problems):
        if not line.strip():
            if rec is not None:
                out.append(rec)
            rec = None
            continue
        if len(line) < 2 or line[1] != ":":
            problems.add(f"line {n}: not a 'X:value' line: {line[:60]!r}; skipped")
            continue
        if rec is None:
            rec = _Record(n)
        key, value = line[0], line[2:]
        if key == "F":
            d = value.strip("/")
            rec.dir = d
            if len(d) > _MAX_PATH:
                problems.add(
                    f"line {n}: a directory of {len(d)} characters; skipped, and its files"
                )
            elif d and budget > 0:
                budget -= len(d)
                rec.files.append(d)
        elif key == "R":
            if not value or "/" in value or len(value) > _MAX_PATH:
                problems.add(f"line {n}: invalid file name {value[:60]!r}; skipped")
            elif rec.dir is not None and len(rec.dir) > _MAX_PATH:
                pass  # a file of the directory skipped above
            elif budget > 0:
                file = f"{rec.dir}/{value}" if rec.dir else value
                budget -= len(file)
                rec.files.append(file)
                if budget <= 0:
                    problems.add(
                        f"line {n}: the files' paths exceed 4 times the database's size;"
                        " the files from here on are left out"
                    )
        elif key in rec.fields:
            if key in "PV":
                problems.add(f"line {n}: second '{key}:' in the stanza of line {rec.line}")
        else:
            rec.fields[key] = _text(value)
    if rec is not None:
        out.append(rec)
    return out


def _text(value: str) -> str:
    """A text field with any undecodable bytes replaced (only paths keep the escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def _valid_name(name: str) -> bool:
    return bool(name) and set(name) <= _NAME_CHARS


def _valid_version(version: str) -> bool:
    return bool(version) and version[0].isascii() and version[0].isdigit() and version.isprintable()


class ApkCataloger:
    name = "apk"
    version = 2  # 2: hostile paths bounded (F: over PATH_MAX, owned paths at 4x)
    max_bytes = 64 * 1024 * 1024
    wants = Wants(names=frozenset({_INSTALLED.rpartition("/")[2]}))

    def match(self, path: str, mode: int, size: int) -> bool:
        return path == _INSTALLED

    def parse(self, path: str, data: bytes) -> FileResult:
        problems = Problems(path)
        result = FileResult()
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        if not data.strip():
            problems.add("empty file")
        elif not data.endswith(b"\n"):
            # a file cut short ends inside a line, whose value cannot be trusted
            cut = data.rfind(b"\n") + 1
            tail = data[cut:].decode("utf-8", "replace")
            problems.add(
                f"does not end with a newline (truncated?): last line {tail[:60]!r} ignored"
            )
            data = data[:cut]
        if data.strip() and not data.endswith(b"\n\n"):
            # apk-tools ends every stanza with a blank line
            problems.add(
                "the last stanza is not followed by a blank line: the file may be truncated"
            )
        for rec in _records(data, problems):
            pkg = _package(path, rec, problems)
            if pkg is not None:
                result.packages.append(pkg)
                result.owned_files.extend(rec.files)
        result.warnings = problems.finish()
        return result


def _package(path: str, rec: _Record, problems: Problems) -> Package | None:
    f = rec.fields
    name = f.get("P", "")
    version = f.get("V", "")
    where = f"stanza at line {rec.line}"
    if not name:
        problems.add(f"{where} has no P: (name); skipped")
        return None
    if not _valid_name(name):
        problems.add(f"{where}: invalid package name {name[:60]!r}; skipped")
        return None
    where = f"package {name!r} (line {rec.line})"
    if not version:
        problems.add(f"{where} has no V: (version); skipped")
        return None
    if not _valid_version(version) or " " in version:
        problems.add(f"{where}: invalid version {version[:60]!r}; skipped")
        return None
    arch = f.get("A") or None
    if arch is not None and not _valid_name(arch):
        problems.add(f"{where}: invalid architecture {arch[:40]!r}; left out")
        arch = None
    origin = f.get("o") or name
    if not _valid_name(origin):
        problems.add(f"{where}: invalid origin {origin[:60]!r}; using the package name")
        origin = name
    license_ = f.get("L", "").strip()
    extra = {k: f[letter] for letter, k in _EXTRA.items() if f.get(letter)}
    try:
        url = purl(APK, name, version, "alpine", {"arch": arch} if arch else None)
    except PurlError as e:  # a guard: the checks above leave nothing it rejects
        problems.add(f"{where}: {e}; skipped")
        return None
    return Package(
        ecosystem=APK,
        name=name,
        version=version,
        purl=url,
        path=path,
        source_name=origin,
        source_version=version,
        arch=arch,
        licenses=(license_,) if license_ else (),
        extra=extra,
    )
