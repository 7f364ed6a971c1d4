"""Java archives: jar, war, ear (and Jenkins' jpi/hpi), nested archives included.

What identifies an artifact, best first:

1. ``META-INF/maven/<groupId>/<artifactId>/pom.properties``, written by Maven into
   every jar it builds; shaded and bundled jars carry one per artifact inside;
2. ``META-INF/MANIFEST.MF`` (jar specification: ``Name: value`` lines of at most 72
   bytes, continued on lines starting with one space), its main section:
   ``Implementation-*``, ``Bundle-*`` (OSGi) and ``Specification-*`` fields;
3. the archive's file name, ``name-1.2.3.jar`` (up to :data:`MAX_NAME` characters).

Archives inside archives (``WEB-INF/lib/*.jar`` of a war, ``BOOT-INF/lib/*.jar`` of a
Spring Boot jar, modules of an ear) are opened from memory, to a depth of
:data:`MAX_DEPTH`, within bounds on entry count, per-entry size, compression ratio (of
every entry read over 64 KiB) and total bytes inflated, nested archives and metadata each, so a zip
bomb costs a warning, not the machine. The metadata readers take time linear in their
input.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field

from customhouse.catalog.interface import MAVEN, FileResult, Package, Wants
from customhouse.catalog.purl import PurlError, purl

__all__ = ["MAX_DEPTH", "JavaCataloger", "parse_manifest", "parse_properties"]

_MiB = 1024 * 1024
_SUFFIXES = frozenset({".jar", ".war", ".ear", ".jpi", ".hpi"})
MAX_DEPTH = 3  # the file itself is depth 1
MAX_ENTRIES = 100_000  # entries looked at per archive
MAX_META_BYTES = 1 * _MiB  # a pom.properties or MANIFEST.MF
MAX_NESTED_BYTES = 256 * _MiB  # one nested archive, inflated
MAX_TOTAL_BYTES = 512 * _MiB  # all nested archives of one file, inflated
MAX_META_TOTAL = 16 * _MiB  # all pom.properties and MANIFEST.MF of one file, inflated
MAX_RATIO = 200  # inflated/compressed, for every entry read over RATIO_GRACE
RATIO_GRACE = 64 * 1024  # (a small, repetitive text may compress that well)
MAX_NAME = 256  # characters of a file name (no directory, no suffix) read for an identity
_MANIFEST = "META-INF/MANIFEST.MF"
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,  # encrypted entries
    NotImplementedError,  # unsupported compression methods
    IndexError,
    KeyError,
)
# A properties key: up to the first separator not escaped by a backslash (possessive, so
# no backtracking state is kept per character)
_KEY = re.compile(r"[^=: \t\f\\]*+(?:\\.?[^=: \t\f\\]*+)*+", re.S)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
# name-1.2.3: the version is the characters ending the stem (matched on the reversed stem)
# after the first "-" or "_", optional "v" and digit among them
_VERSION_CHARS = re.compile(r"[\w.+~-]*")
_VERSION_START = re.compile(r"[-_]v?\d")


def parse_properties(text: str) -> dict[str, str]:
    """A ``java.util.Properties`` text file (the subset Maven writes, tolerantly read)."""
    out: dict[str, str] = {}
    pending: list[str] = []  # parts of a continued line, none empty; joined once
    lines = text.splitlines()
    for n, raw in enumerate(lines):
        line = raw.lstrip(" \t\f")
        if not pending and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1 and n + 1 < len(lines):  # an odd count of "\" continues it
            if len(line) > 1:
                pending.append(line[:-1])
            continue
        if pending:
            pending.append(line)
            line, pending = "".join(pending), []
        key_match = _KEY.match(line)  # never None: the pattern matches ""
        i = key_match.end() if key_match else 0
        key, rest = line[:i], line[i:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        out[_unescape(key)] = _unescape(rest)
    return out


def _unescape(text: str) -> str:
    """``\\uXXXX``, ``\\t``, ``\\n``, ``\\r``, ``\\f`` decoded, any other ``\\c`` is ``c``; a
    trailing ``\\`` kept. Each distinct escape is decoded once, the rest is done in C."""
    if "\\" not in text:
        return text
    parts = _ESCAPE.split(text)  # text, escape, text, escape, ..., text
    escapes = parts[1::2]
    decoded = {e: chr(int(e[1:], 16)) if len(e) == 5 else _ESCAPES.get(e, e) for e in set(escapes)}
    parts[1::2] = map(decoded.__getitem__, escapes)
    return "".join(parts)


def parse_manifest(text: str) -> dict[str, str]:
    """The main section of a jar manifest; continuation lines joined."""
    out: dict[str, list[str]] = {}  # the parts of each value, joined once at the end
    parts: list[str] | None = None  # the value continuation lines go to
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if out:
                break  # the main section ends at the first blank line
            continue
        if line.startswith(" ") and parts is not None:
            parts.append(line[1:])
            continue
        name, sep, value = line.partition(":")
        if not sep:
            parts = None
            continue
        parts = out[name.strip()] = [value[1:] if value.startswith(" ") else value]
    return {k: "".join(v).strip() for k, v in out.items()}


@dataclass(frozen=True, slots=True)
class _Artifact:
    group: str | None
    artifact: str
    version: str
    source: str  # "pom.properties", "MANIFEST.MF", "file name"
    archive: str  # the archive it was found in, nested ones as "outer.war:WEB-INF/lib/x.jar"
    licenses: tuple[str, ...] = ()


@dataclass(slots=True)
class _Walk:
    path: str
    warnings: list[str] = field(default_factory=list)
    found: list[_Artifact] = field(default_factory=list)
    inflated: int = 0  # nested archives
    meta: int = 0  # pom.properties and MANIFEST.MF


def _file_identity(name: str) -> tuple[str, str]:
    """(name, version) from ``name-1.2.3.jar``, as ``^(.+?)[-_]v?(\\d[\\w.+~-]*)$`` would
    match the stem, in one pass; ("", "") for a stem over :data:`MAX_NAME` characters."""
    stem = name.rsplit("/", 1)[-1]
    stem = stem[: -len(stem.rsplit(".", 1)[-1]) - 1] if "." in stem else stem
    if len(stem) > MAX_NAME:
        return "", ""
    body = stem[:-1] if stem.endswith("\n") else stem  # "$" matches before a final newline
    if "\n" not in body:  # nor may the name hold one
        run = _VERSION_CHARS.match(body[::-1])  # never None: the pattern matches ""
        m = _VERSION_START.search(body, max(len(body) - (run.end() if run else 0), 1))
        if m:
            return body[: m.start()], body[m.end() - 1 :]
    return stem, ""


def _licenses(manifest: dict[str, str]) -> tuple[str, ...]:
    value = manifest.get("Bundle-License", "")
    if not value:
        return ()
    if "://" in value and "," not in value:
        return (value.split(";", 1)[0].strip(),)
    return tuple(
        part.split(";", 1)[0].strip() for part in value.split(",") if part.split(";", 1)[0].strip()
    )


def _from_manifest(
    manifest: dict[str, str], archive_name: str
) -> tuple[str | None, str, str] | None:
    """(group, artifact, version) from a manifest and the archive's name, or None."""
    file_name, _ = _file_identity(archive_name)
    version = (
        manifest.get("Implementation-Version")
        or manifest.get("Bundle-Version")
        or manifest.get("Specification-Version")
        or ""
    )
    symbolic = manifest.get("Bundle-SymbolicName", "").split(";", 1)[0].strip()
    artifact = (
        file_name
        or manifest.get("Implementation-Title")
        or manifest.get("Bundle-Name")
        or symbolic
        or manifest.get("Specification-Title")
        or ""
    )
    if not version or not artifact:
        return None
    group = manifest.get("Implementation-Vendor-Id") or None
    if group is None and symbolic.endswith("." + artifact):
        group = symbolic[: -len(artifact) - 1]
    return group, artifact, version


def _read(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, walk: _Walk, where: str
) -> bytes | None:
    if info.file_size > limit:
        walk.warnings.append(
            f"{walk.path}: {where}: {info.file_size} bytes is over the {limit} read; skipped"
        )
        return None
    if info.file_size > RATIO_GRACE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        walk.warnings.append(
            f"{walk.path}: {where}: compression ratio over {MAX_RATIO} (a zip bomb?); skipped"
        )
        return None
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)
    except _ZIP_ERRORS as e:
        walk.warnings.append(f"{walk.path}: {where}: unreadable entry: {type(e).__name__}: {e}")
        return None
    if len(data) > limit:
        walk.warnings.append(f"{walk.path}: {where}: inflates past {limit} bytes; skipped")
        return None
    return data


def _read_meta(zf: zipfile.ZipFile, info: zipfile.ZipInfo, walk: _Walk, where: str) -> bytes | None:
    """A pom.properties or MANIFEST.MF, within :data:`MAX_META_TOTAL` for the whole walk."""
    if walk.meta + info.file_size > MAX_META_TOTAL:
        walk.warnings.append(
            f"{walk.path}: {where}: metadata inflates past {MAX_META_TOTAL} bytes in all; skipped"
        )
        return None
    data = _read(zf, info, MAX_META_BYTES, walk, where)
    if data is not None:
        walk.meta += len(data)
    return data


def _walk_archive(data: bytes, archive: str, depth: int, walk: _Walk) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except _ZIP_ERRORS as e:
        walk.warnings.append(
            f"{walk.path}: {archive}: not a readable zip archive: {type(e).__name__}: {e}"
        )
        return
    with zf:
        if len(infos) > MAX_ENTRIES:
            walk.warnings.append(
                f"{walk.path}: {archive}: {len(infos)} entries; only the first {MAX_ENTRIES} looked at"
            )
            infos = infos[:MAX_ENTRIES]
        poms: list[zipfile.ZipInfo] = []
        manifest_info: zipfile.ZipInfo | None = None
        nested: list[zipfile.ZipInfo] = []
        for info in infos:
            name = info.filename
            if name.startswith("META-INF/"):
                if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                    poms.append(info)
                elif name.upper() == _MANIFEST.upper():
                    manifest_info = info
            if name[-4:].lower() in _SUFFIXES and not info.is_dir():
                nested.append(info)
        manifest: dict[str, str] = {}
        if manifest_info is not None:
            raw = _read_meta(zf, manifest_info, walk, f"{archive}:{manifest_info.filename}")
            if raw is not None:
                manifest = parse_manifest(raw.decode("utf-8", "replace"))
        licenses = _licenses(manifest)
        before = len(walk.found)
        for info in poms:
            raw = _read_meta(zf, info, walk, f"{archive}:{info.filename}")
            if raw is None:
                continue
            props = parse_properties(raw.decode("utf-8", "replace").lstrip("\ufeff"))
            parts = info.filename.split("/")  # META-INF/maven/<group>/<artifact>/pom.properties
            group = props.get("groupId") or (parts[2] if len(parts) == 5 else "")
            artifact = props.get("artifactId") or (parts[3] if len(parts) == 5 else "")
            version = props.get("version", "")
            if not artifact or not version or "${" in version:
                walk.warnings.append(
                    f"{walk.path}: {archive}:{info.filename}: no usable artifactId/version"
                )
                continue
            walk.found.append(
                _Artifact(
                    group or None,
                    artifact,
                    version,
                    "pom.properties",
                    archive,
                    licenses if len(poms) == 1 else (),
                )
            )
        if len(walk.found) == before:
            ident = _from_manifest(manifest, archive)
            if ident is not None:
                walk.found.append(_Artifact(*ident, "MANIFEST.MF", archive, licenses))
            else:
                name, version = _file_identity(archive)
                if name:
                    walk.found.append(
                        _Artifact(None, name, version, "file name", archive, licenses)
                    )
        for info in nested:
            where = f"{archive}:{info.filename}"
            if depth >= MAX_DEPTH:
                walk.warnings.append(
                    f"{walk.path}: {where}: nested deeper than {MAX_DEPTH} archives; skipped"
                )
                continue
            if walk.inflated + info.file_size > MAX_TOTAL_BYTES:
                walk.warnings.append(
                    f"{walk.path}: {where}: nested archives inflate past {MAX_TOTAL_BYTES} bytes in all; skipped"
                )
                continue
            inner = _read(zf, info, MAX_NESTED_BYTES, walk, where)
            if inner is None:
                continue
            walk.inflated += len(inner)
            _walk_archive(inner, where, depth + 1, walk)


class JavaCataloger:
    name = "java"
    version = 2  # 2: every entry over 64 KiB ratio-checked, metadata budget, names capped
    max_bytes = 512 * _MiB
    wants = Wants(suffixes=tuple(_SUFFIXES))

    def match(self, path: str, mode: int, size: int) -> bool:
        return path[-4:].lower() in _SUFFIXES

    def parse(self, path: str, data: bytes) -> FileResult:
        walk = _Walk(path)
        _walk_archive(data, path, 1, walk)
        packages: list[Package] = []
        seen: set[tuple[str | None, str, str, str]] = set()
        for a in walk.found:
            ident = (a.group, a.artifact, a.version, a.archive)
            if ident in seen:
                continue
            seen.add(ident)
            try:
                url = purl(MAVEN, a.artifact, a.version, namespace=a.group)
            except PurlError as e:
                walk.warnings.append(f"{path}: {a.archive}: {e}")
                continue
            extra = {"artifact_id": a.artifact, "found_by": a.source}
            if a.group:
                extra["group_id"] = a.group
            if a.archive != path:
                extra["archive"] = a.archive
            packages.append(
                Package(
                    ecosystem=MAVEN,
                    name=f"{a.group}:{a.artifact}" if a.group else a.artifact,
                    version=a.version,
                    purl=url,
                    path=path,
                    licenses=a.licenses,
                    extra=extra,
                )
            )
        return FileResult(packages=packages, warnings=walk.warnings)
