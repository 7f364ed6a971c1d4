"""Installed Python distributions: ``*.dist-info/METADATA`` and ``*.egg-info`` metadata.

Core metadata (https://packaging.python.org/en/latest/specifications/core-metadata/)
is an RFC 822 style header block; the body after the first blank line is the long
description and is not read. Found anywhere in the image (site-packages,
dist-packages, virtualenvs): the file itself says what is installed, wherever it is.

- ``NAME-VER.dist-info/METADATA`` (wheels, pip);
- ``NAME-VER.egg-info/PKG-INFO`` (setuptools, Debian's ``python3-*`` packages);
- ``NAME-VER.egg-info`` as a single file (distutils' ``install_egg_info``);
- ``NAME-VER.egg/EGG-INFO/PKG-INFO`` (unzipped eggs).

The package name is normalized as PEP 503 says (``re.sub(r"[-_.]+", "-", n).lower()``)
and the name as written is kept in ``extra["name"]`` when it differs. The PURL follows
the purl spec's pypi rule (lowercased, ``_`` as ``-``): ``pkg:pypi/zope.event@5.0``. The version is
kept as written; its PEP 440 normal form goes in ``extra["normalized_version"]`` when it
differs (``extra["invalid_version"] = "true"`` when it is not PEP 440 at all).

Licenses: ``License-Expression`` (PEP 639) when present, as it supersedes the rest;
else the ``License`` field when it is a one-line name (not ``UNKNOWN``, not a pasted
licence text); else the names of ``Classifier: License :: ...`` entries.

Whether a distribution belongs to an OS package (Debian's ``python3-six``) is decided at
merge time from the OS package file lists (``Package.os_owned``).
"""

from __future__ import annotations

import re

from customhouse.catalog.interface import PYPI, FileResult, Package, Wants

__all__ = ["PythonCataloger", "normalize_name"]

_MiB = 1024 * 1024
_NORMALIZE = re.compile(r"[-_.]+")
_MULTI = frozenset({"classifier", "license-file"})
_WANTED = frozenset(
    {"name", "version", "license", "license-expression", "classifier", "metadata-version"}
)
_LICENSE_MAX = 200  # a longer License field is a pasted licence text, not a name


def normalize_name(name: str) -> str:
    """PEP 503 normalization: runs of ``-``, ``_`` and ``.`` become ``-``, lowercased."""
    return _NORMALIZE.sub("-", name).lower()


def _headers(text: str) -> dict[str, list[str]]:
    """The fields we need from an RFC 822 header block, continuation lines joined."""
    # a value's lines are joined once at the end: joined as they came, a value of many
    # continuation lines was copied once per line (2 MB of them took 10 s)
    parts: dict[str, list[list[str]]] = {}
    current: list[str] | None = None  # the lines of the wanted value being read
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if not line:
            break  # end of the headers; the description follows
        if line[0] in " \t":
            if current is not None:
                current.append(line.strip())
            continue
        name, sep, value = line.partition(":")
        k = name.strip().lower()
        if not sep or k not in _WANTED:
            current = None
            continue
        current = [value.strip()]
        parts.setdefault(k, []).append(current)
    return {k: ["\n".join(lines) for lines in values] for k, values in parts.items()}


def _licenses(fields: dict[str, list[str]]) -> tuple[str, ...]:
    expr = (fields.get("license-expression") or [""])[0].strip()
    if expr:
        return (expr,)
    lic = (fields.get("license") or [""])[0].strip()
    if lic and "\n" not in lic and len(lic) <= _LICENSE_MAX and lic.upper() != "UNKNOWN":
        return (lic,)
    out: dict[str, None] = {}  # (ordered; a repeat costs O(1), not a scan of the others)
    for c in fields.get("classifier", ()):
        parts = [p.strip() for p in c.split("::")]
        if len(parts) < 2 or parts[0] != "License":
            continue
        if parts[1:] == ["OSI Approved"]:
            continue  # says nothing about which licence
        if parts[-1]:
            out[parts[-1]] = None
    return tuple(out)


def _kind(path: str) -> str:
    if path.endswith("/METADATA"):
        return "dist-info"
    if path.endswith("/EGG-INFO/PKG-INFO"):
        return "egg"
    return "egg-info"


class PythonCataloger:
    name = "python"
    version = 1
    max_bytes = 8 * _MiB
    wants = Wants(names=frozenset({"METADATA", "PKG-INFO"}), suffixes=(".egg-info",))

    def match(self, path: str, mode: int, size: int) -> bool:
        if path.endswith(".dist-info/METADATA"):
            return True
        if path.endswith("/PKG-INFO"):
            return path.endswith(".egg-info/PKG-INFO") or path.endswith(".egg/EGG-INFO/PKG-INFO")
        return path.endswith(".egg-info")  # distutils: one file, not a directory

    def parse(self, path: str, data: bytes) -> FileResult:
        warnings: list[str] = []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            text = data.decode("utf-8", "replace")
            warnings.append(
                f"{path}: invalid UTF-8 at byte {e.start}; decoded with replacement characters"
            )
        text = text.lstrip("\ufeff")
        fields = _headers(text)
        name = (fields.get("name") or [""])[0].strip()
        version = (fields.get("version") or [""])[0].strip()
        if not name or not version:
            missing = " and ".join(f for f, v in (("Name", name), ("Version", version)) if not v)
            warnings.append(f"{path}: no {missing} field in the metadata; skipped")
            return FileResult(warnings=warnings)
        normalized = normalize_name(name)
        extra: dict[str, str] = {"format": _kind(path)}
        if name != normalized:
            extra["name"] = name
        meta_version = (fields.get("metadata-version") or [""])[0]
        if meta_version:
            extra["metadata_version"] = meta_version
        from packaging.version import Version

        try:
            pep440 = str(Version(version))
            if pep440 != version:
                extra["normalized_version"] = pep440
        except ValueError:  # InvalidVersion, or a number of more digits than int() takes
            extra["invalid_version"] = "true"
        from customhouse.catalog.purl import PurlError, purl

        try:
            # the purl spec's own pypi rule (lowercase, "_" as "-") keeps dots, so the
            # canonical purl of zope.event is pkg:pypi/zope.event, not .../zope-event
            url = purl(PYPI, name, version)
        except PurlError as e:
            warnings.append(f"{path}: no package URL for {name!r} {version!r}: {e}")
            return FileResult(warnings=warnings)
        pkg = Package(
            ecosystem=PYPI,
            name=normalized,
            version=version,
            purl=url,
            path=path,
            licenses=_licenses(fields),
            extra=extra,
        )
        return FileResult(packages=[pkg], warnings=warnings)
