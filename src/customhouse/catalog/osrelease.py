"""OS detection: os-release(5), alpine-release, debian_version, redhat-release."""

from __future__ import annotations

import re
import shlex

from customhouse.catalog.interface import Distro, FileResult, Wants

_PATHS = {
    "etc/os-release": 0,
    "usr/lib/os-release": 1,
    "etc/alpine-release": 2,
    "etc/debian_version": 3,
    "etc/redhat-release": 4,
    "etc/centos-release": 4,
    "etc/rocky-release": 4,
    "etc/almalinux-release": 4,
}

#: Debian major version -> codename (advisories are keyed by codename)
DEBIAN_CODENAMES = {
    "7": "wheezy",
    "8": "jessie",
    "9": "stretch",
    "10": "buster",
    "11": "bullseye",
    "12": "bookworm",
    "13": "trixie",
    "14": "forky",
}


def priority(path: str) -> int:
    """Lower is more authoritative."""
    return _PATHS.get(path, 99)


def parse_os_release(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if not re.fullmatch(r"[A-Z0-9_]+", key):
            continue
        try:
            parts = shlex.split(value, posix=True)
            out[key] = parts[0] if parts else ""
        except ValueError:
            out[key] = value.strip().strip("\"'")
    return out


class OSReleaseCataloger:
    name = "os-release"
    version = 1
    max_bytes = 64 * 1024
    wants = Wants(names=frozenset(p.rpartition("/")[2] for p in _PATHS))

    def match(self, path: str, mode: int, size: int) -> bool:
        return path in _PATHS

    def parse(self, path: str, data: bytes) -> FileResult:
        text = data.decode("utf-8", "replace")
        if path.endswith("os-release"):
            fields = parse_os_release(text)
            id_ = fields.get("ID", "").lower()
            if not id_:
                return FileResult(warnings=[f"{path}: no ID= line"])
            version = fields.get("VERSION_ID") or None
            codename = fields.get("VERSION_CODENAME") or None
            if codename is None and id_ == "debian" and version:
                codename = DEBIAN_CODENAMES.get(version.split(".")[0])
            if codename is None:
                m = re.search(r"\(([a-z]+)\)", fields.get("VERSION", ""))
                codename = m.group(1) if m else None
            return FileResult(
                distro=Distro(
                    id=id_,
                    version_id=version,
                    codename=codename,
                    name=fields.get("NAME") or None,
                    pretty_name=fields.get("PRETTY_NAME") or None,
                    id_like=tuple(fields.get("ID_LIKE", "").split()),
                    source=path,
                )
            )
        first = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not first:
            return FileResult(warnings=[f"{path}: empty"])
        if path == "etc/alpine-release":
            return FileResult(distro=Distro(id="alpine", version_id=first, source=path))
        if path == "etc/debian_version":
            major = first.split(".")[0]
            codename = DEBIAN_CODENAMES.get(major)
            if codename is None and "/" in first:  # testing/unstable: "trixie/sid"
                codename = first.split("/")[0]
            return FileResult(
                distro=Distro(
                    id="debian",
                    version_id=major if codename else None,
                    codename=codename,
                    source=path,
                )
            )
        m = re.match(r"(.+?) release ([\d.]+)", first)
        if m:
            vendor = m.group(1).lower()
            id_ = (
                "rhel"
                if "red hat" in vendor
                else "centos"
                if "centos" in vendor
                else "rocky"
                if "rocky" in vendor
                else "almalinux"
                if "alma" in vendor
                else "fedora"
                if "fedora" in vendor
                else vendor.split()[0]
            )
            return FileResult(
                distro=Distro(id=id_, version_id=m.group(2), name=m.group(1), source=path)
            )
        return FileResult(warnings=[f"{path}: unrecognised release line {first[:80]!r}"])
