"""Java archives: jar, war, ear (and Jenkins' jpi/hpi), nested archives included.

What identifies an artifact, best first:

1. ``META-INF/maven/<groupId>/<artifactId>/pom.properties``, written by Maven into
   every jar it builds; shaded and bundled jars carry one per artifact inside;
2. ``META-INF/MANIFEST.MF`` (jar specification: ``Name: value`` lines of at most 72
   bytes, continued on lines starting with one space), its main section:
   ``Implementation-*``, ``Bundle-*`` (OSGi) and ``Specification-*`` fields;
3. the archive's file name, ``name-1.2.3.jar``.

Archives inside archives (``WEB-INF/lib/*.jar`` of a war, ``BOOT-INF/lib/*.jar`` of a
Spring Boot jar, modules of an ear) are opened from memory, to a depth of
:data:`MAX_DEPTH`, within bounds on entry count, per-entry size, compression ratio and
total bytes inflated, so a zip bomb costs a warning, not the machine.
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
MAX_RATIO = 200  # inflated/compressed, for entries over 1 MiB
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
_FILENAME = re.compile(r"^(?P<name>.+?)[-_]v?(?P<version>\d[\w.+~-]*)$")


def parse_properties(text: str) -> dict[str, str]:
    """A ``java.util.Properties`` text file (the subset Maven writes, tolerantly read)."""
    out: dict[str, str] = {}
    pending = ""
    lines = text.splitlines()
    for n, raw in enumerate(lines):
        line = raw.lstrip(" \t\f")
        if not pending and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1 and n + 1 < len(lines):  # an odd count of "\" continues it
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        i = 0
        while i < len(line) and line[i] not in "=: \t\f":
            i += 2 if line[i] == "\\" else 1
        key, rest = line[:i], line[i:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        out[_unescape(key)] = _unescape(rest)
    return out


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        n = text[i + 1]
        if n == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
            continue
        out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(n, n))
        i += 2
    return "".join(out)


def parse_manifest(text: str) -> dict[str, str]:
    """The main section of a jar manifest; continuation lines joined."""
    out: dict[str, str] = {}
    key: str | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if out:
                break  # the main section ends at the first blank line
            continue
        if line.startswith(" ") and key is not None:
            out[key] += line[1:]
            continue
        name, sep, value = line.partition(":")
        if not sep:
            key = None
            continue
        key = name.strip()
        out[key] = value[1:] if value.startswith(" ") else value
    return {k: v.strip() for k, v in out.items()}


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
    inflated: int = 0


def _file_identity(name: str) -> tuple[str, str]:
    stem = name.rsplit("/", 1)[-1]
    stem = stem[: -len(stem.rsplit(".", 1)[-1]) - 1] if "." in stem else stem
    m = _FILENAME.match(stem)
    if m:
        return m.group("name"), m.group("version")
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
    if info.file_size > _MiB and info.file_size > MAX_RATIO * max(info.compress_size, 1):
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
            raw = _read(
                zf, manifest_info, MAX_META_BYTES, walk, f"{archive}:{manifest_info.filename}"
            )
            if raw is not None:
                manifest = parse_manifest(raw.decode("utf-8", "replace"))
        licenses = _licenses(manifest)
        before = len(walk.found)
        for info in poms:
            raw = _read(zf, info, MAX_META_BYTES, walk, f"{archive}:{info.filename}")
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
    version = 1
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
