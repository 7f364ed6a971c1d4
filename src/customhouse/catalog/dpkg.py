"""dpkg: Debian and Ubuntu packages, from dpkg's database.

Files read:

- ``var/lib/dpkg/status``: one deb822 stanza per package dpkg knows. A package is
  reported when its files are on disk, i.e. its status (third word of ``Status:``) is
  ``installed``, ``unpacked``, ``half-configured``, ``half-installed``,
  ``triggers-awaited`` or ``triggers-pending`` — whatever the selection (``install``,
  ``hold``, ``deinstall``, ``purge``): a package selected for removal is still there.
  ``config-files`` (only conffiles left) and ``not-installed`` are not reported. A
  stanza without ``Status:`` is "not installed" to dpkg, so it is skipped (with a
  warning, as it usually means a damaged file). ``dpkg-query -W`` lists the same set
  plus the ``config-files`` ones.
- ``var/lib/dpkg/status.d/*``: distroless images, one file per package, holding the
  package's control stanza, usually without ``Status:`` (taken as installed).
- ``var/lib/dpkg/info/*.list`` (the files of each package, directories included) and
  ``var/lib/dpkg/status.d/*.md5sums`` (the regular files of a distroless package):
  owned files only.

Source package: ``Source: name`` or ``Source: name (version)``; without a version the
source version is the binary version, and without the field the source package is the
binary package itself — the values ``dpkg-query -f '${source:Package} ${source:Version}'``
prints.

:func:`copyright_licenses` reads the declared licenses of a
``usr/share/doc/<package>/copyright`` file; the per-file results have no slot yet to
attach them to the package, so it is not wired into the cataloger.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from customhouse.catalog._problems import Problems, numbered_lines
from customhouse.catalog.interface import DEB, FileResult, Package, Wants
from customhouse.catalog.purl import PurlError, purl

__all__ = ["DpkgCataloger", "copyright_licenses"]

_STATUS = "var/lib/dpkg/status"
_STATUS_D = "var/lib/dpkg/status.d/"
_INFO = "var/lib/dpkg/info/"
_DPKG = "var/lib/dpkg/"
_DOC = "usr/share/doc/"

#: dpkg states in which a package's files are on disk
_PRESENT = frozenset(
    {
        "installed",
        "unpacked",
        "half-configured",
        "half-installed",
        "triggers-awaited",
        "triggers-pending",
    }
)
_ABSENT = frozenset({"not-installed", "config-files"})

# dpkg's own rules: names start with an alphanumeric and use [a-z0-9+.-]; versions are
# [epoch:]upstream[-revision] over [A-Za-z0-9.+~:-].
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.\-]*")
_VERSION = re.compile(r"(?:[0-9]+:)?[A-Za-z0-9][A-Za-z0-9.+~:\-]*")
_SOURCE = re.compile(r"(\S+)(?:\s+\((\S+)\))?")
_LICENSE_FIELD = re.compile(rb"^license:([^\n]*)", re.IGNORECASE | re.MULTILINE)
_COMMON_LICENSE = re.compile(
    r"/usr/share/common-licenses/([A-Za-z0-9][A-Za-z0-9.+_\-]*[A-Za-z0-9+])"
)


@dataclass(frozen=True, slots=True)
class _Stanza:
    """One deb822 paragraph: field names lowercased, continuation lines joined by "\\n"."""

    line: int  # 1-based number of its first line
    fields: dict[str, str]


def _lines(data: bytes, problems: Problems) -> Iterator[tuple[int, str]]:
    return numbered_lines(
        data, problems, errors="replace", note="invalid UTF-8 (undecodable bytes replaced)"
    )


def _parse_stanzas(data: bytes, problems: Problems) -> list[_Stanza]:
    """Split deb822 text (dpkg status, control, DEP-5 copyright) into stanzas.

    Blank or whitespace-only lines separate stanzas (several in a row are one
    separator); lines starting with a space or tab continue the previous field; ``#``
    lines are comments. A malformed line is reported and skipped.
    """
    stanzas: list[_Stanza] = []
    # a field's lines, joined when its stanza ends: joined as they came, a field of many
    # continuation lines was copied once per line (2 MB of them took 11 s)
    fields: dict[str, list[str]] = {}
    start = 0
    last: list[str] | None = None

    def joined() -> dict[str, str]:
        return {k: "\n".join(v) for k, v in fields.items()}

    for n, line in _lines(data, problems):
        if not line.strip():
            if fields:
                stanzas.append(_Stanza(start, joined()))
            fields, last = {}, None
            continue
        first = line[0]
        if first == " " or first == "\t":
            if last is None:
                problems.add(f"line {n}: continuation line outside a field; skipped")
            else:
                last.append(line[1:])
            continue
        if first == "#":
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or " " in name or "\t" in name or name[0] == "-":
            problems.add(f"line {n}: not a 'Field: value' line: {line[:60]!r}; skipped")
            last = None
            continue
        key = name.lower()
        if not fields:
            start = n
        if key in fields:
            problems.add(f"line {n}: duplicate field {name!r}; the first one is kept")
            last = None
            continue
        last = fields[key] = [value.strip()]
    if fields:
        stanzas.append(_Stanza(start, joined()))
    return stanzas


class DpkgCataloger:
    name = "dpkg"
    version = 2
    max_bytes = 64 * 1024 * 1024
    wants = Wants(
        names=frozenset({"status", "copyright"}), suffixes=(".list",), prefixes=(_STATUS_D,)
    )

    def match(self, path: str, mode: int, size: int) -> bool:
        if path.startswith(_DOC) and path.endswith("/copyright"):
            return path.count("/") == 4  # usr/share/doc/<pkg>/copyright
        if not path.startswith(_DPKG):
            return False
        if path == _STATUS:
            return True
        if path.startswith(_STATUS_D):
            return "/" not in path[len(_STATUS_D) :]
        if path.startswith(_INFO):
            return path.endswith(".list") and "/" not in path[len(_INFO) :]
        return False

    def parse(self, path: str, data: bytes) -> FileResult:
        problems = Problems(path)
        if path.startswith(_DOC):
            licenses = copyright_licenses(data)
            return FileResult(licenses_for={path.split("/")[3]: list(licenses)} if licenses else {})
        if path.endswith(".list") and path.startswith(_INFO):
            return FileResult(owned_files=_list_file(data, problems), warnings=problems.finish())
        if path.endswith(".md5sums"):
            return FileResult(owned_files=_md5sums(data, problems), warnings=problems.finish())
        packages = _packages(path, data, problems, implicit_installed=path != _STATUS)
        return FileResult(packages=packages, warnings=problems.finish())


def _packages(
    path: str, data: bytes, problems: Problems, *, implicit_installed: bool
) -> list[Package]:
    if not data.strip():
        problems.add("empty file")
        return []
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    data = _drop_incomplete_line(data, problems)
    if path == _STATUS and data.strip() and not data.endswith(b"\n\n"):
        # dpkg ends every stanza of its status file with a blank line
        problems.add("the last stanza is not followed by a blank line: the file may be truncated")
    out: list[Package] = []
    for st in _parse_stanzas(data, problems):
        pkg = _package(path, st, problems, implicit_installed=implicit_installed)
        if pkg is not None:
            out.append(pkg)
    return out


def _drop_incomplete_line(data: bytes, problems: Problems) -> bytes:
    """A file cut short ends inside a line, whose value cannot be trusted: drop it."""
    if data.endswith(b"\n"):
        return data
    cut = data.rfind(b"\n") + 1
    tail = data[cut:].decode("utf-8", "replace")
    problems.add(f"does not end with a newline (truncated?): last line {tail[:60]!r} ignored")
    return data[:cut]


def _package(
    path: str, st: _Stanza, problems: Problems, *, implicit_installed: bool
) -> Package | None:
    f = st.fields
    where = f"stanza at line {st.line}"
    name = f.get("package")
    if not name:
        problems.add(f"{where} has no Package field; skipped")
        return None
    if not _NAME.fullmatch(name):
        problems.add(f"{where}: invalid package name {name[:60]!r}; skipped")
        return None
    where = f"package {name!r} (line {st.line})"
    status = f.get("status")
    state = "installed"
    if status is None:
        if not implicit_installed:
            problems.add(f"{where} has no Status field (not installed, to dpkg); skipped")
            return None
    else:
        words = status.split()
        if len(words) != 3:
            problems.add(f"{where}: malformed Status {status[:60]!r}; skipped")
            return None
        state = words[2]
        if state in _ABSENT:
            return None
        if state not in _PRESENT:
            problems.add(f"{where}: unknown package state {state[:40]!r}; skipped")
            return None
    version = f.get("version")
    if not version:
        problems.add(f"{where} has no Version field; skipped")
        return None
    if not _VERSION.fullmatch(version):
        problems.add(f"{where}: invalid version {version[:60]!r}; skipped")
        return None
    arch = f.get("architecture") or None
    if arch is not None and not _NAME.fullmatch(arch):
        problems.add(f"{where}: invalid architecture {arch[:40]!r}; left out")
        arch = None
    src_name, src_version = name, version
    source = f.get("source")
    if source:
        m = _SOURCE.fullmatch(source)
        if m is None or not _NAME.fullmatch(m.group(1)):
            problems.add(f"{where}: malformed Source {source[:60]!r}; using the package name")
        else:
            src_name = m.group(1)
            if m.group(2) is not None:
                if _VERSION.fullmatch(m.group(2)):
                    src_version = m.group(2)
                else:
                    problems.add(f"{where}: invalid source version {m.group(2)[:60]!r}")
    extra: dict[str, str] = {}
    if f.get("maintainer"):
        extra["maintainer"] = f["maintainer"]
    if state != "installed":
        extra["status"] = state
    try:
        url = purl(DEB, name, version, "debian", {"arch": arch} if arch else None)
    except PurlError as e:  # unreachable after the checks above, kept as a guard
        problems.add(f"{where}: {e}; skipped")
        return None
    return Package(
        ecosystem=DEB,
        name=name,
        version=version,
        purl=url,
        path=path,
        source_name=src_name,
        source_version=src_version,
        arch=arch,
        extra=extra,
    )


def _decode_path_lines(data: bytes) -> list[str]:
    # surrogateescape: the same decoding the tar reader gives non-UTF-8 member names
    return data.replace(b"\r\n", b"\n").decode("utf-8", "surrogateescape").split("\n")


def _list_file(data: bytes, problems: Problems) -> list[str]:
    out: list[str] = []
    for line in _decode_path_lines(data):
        p = line.strip("/")
        if not p or p == ".":
            continue
        if "\x00" in p:
            problems.add(f"NUL byte in a listed path {p[:60]!r}; skipped")
            continue
        out.append(p)
    return out


def _md5sums(data: bytes, problems: Problems) -> list[str]:
    out: list[str] = []
    for n, line in enumerate(_decode_path_lines(data), 1):
        if not line.strip():
            continue
        digest, sep, rest = line.partition(" ")
        p = rest.lstrip(" *").strip("/")
        if not sep or len(digest) != 32 or not p or "\x00" in p:
            problems.add(f"line {n}: not an md5sums line: {line[:60]!r}; skipped")
            continue
        out.append(p)
    return out


def copyright_licenses(data: bytes) -> tuple[str, ...]:
    """The licenses a ``usr/share/doc/<package>/copyright`` file declares.

    A machine-readable (DEP-5) file gives the first line of each ``License:`` field, as
    written (``GPL-2+``, ``GPL-2+ or Artistic``); a free-form file gives the names of
    the ``/usr/share/common-licenses/NAME`` files it points to. In order, without repeats.
    """
    found: dict[str, None] = {}
    head = data[:400].lower()
    if b"format:" in head and (b"copyright-format" in head or b"dep5" in head or b"dep-5" in head):
        # a field starts a line (continuations start with a space, comments with "#")
        for field in _LICENSE_FIELD.finditer(data):
            value = field.group(1).decode("utf-8", "replace").strip()
            if value:
                found.setdefault(value, None)
    if found:
        return tuple(found)
    text = data.decode("utf-8", "replace")
    for m in _COMMON_LICENSE.finditer(text):
        found.setdefault(m.group(1), None)
    return tuple(found)
