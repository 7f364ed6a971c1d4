"""Alpine secdb (``secdb.alpinelinux.org/vX.Y/{main,community}.json`` and the older YAML) into OSV.

secdb lists, per branch and per origin (source) package, the apk version that fixed
each ID. One OSV record is made per ID, with one ``affected`` entry per (branch,
origin): ecosystem ``Alpine:vX.Y``, range ``introduced 0 → fixed VERSION``.
The special version ``0`` means the branch was never affected: no entry is made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from customhouse.advisories.osv import AdvisoryError, Vulnerability, parse_vulnerability

_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*")


def parse_id(raw: str) -> str | None:
    """secdb IDs are hand-written: 'CVE-2019-1', 'CVE_2019-2426', 'CVE 2018-16859', 'CVE-????-?????  XSA-295'."""
    text = re.sub(r"^CVE[ _]", "CVE-", raw.strip())
    for token in text.split():
        m = _ID.fullmatch(token)
        if m and "?" not in token:
            return token
    return None


MODIFIED = "1970-01-01T00:00:00Z"  # secdb carries no dates; records are rebuilt on each import


def is_secdb(obj: Any) -> bool:
    return isinstance(obj, dict) and (
        ("packages" in obj and "distroversion" in obj)
        or ("secfixes" in obj and "distroversion" in obj)
    )


@dataclass
class SecdbCollector:
    """Accumulates secdb files, then emits merged OSV records."""

    # id -> (branch, origin) -> fixed version
    fixes: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    entries: int = 0  # secfix (version, id) pairs read
    never_affected: int = 0
    packages: set[tuple[str, str]] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)

    def add(self, obj: Mapping[str, Any], name: str) -> None:
        branch = obj.get("distroversion")
        if not isinstance(branch, str) or not re.fullmatch(r"v?\d+\.\d+|edge", branch):
            raise AdvisoryError(
                f"{name}: secdb 'distroversion' {branch!r} is not a branch like v3.19"
            )
        if not branch.startswith("v") and branch != "edge":
            branch = "v" + branch
        if "secfixes" in obj:  # one package entry (vuln-list layout)
            self._package(branch, obj, name)
            return
        pkgs = obj.get("packages") or []
        if not isinstance(pkgs, list):
            raise AdvisoryError(f"{name}: 'packages' must be a list")
        for i, item in enumerate(pkgs):
            pkg = item.get("pkg") if isinstance(item, dict) else None
            if not isinstance(pkg, dict):
                self.skipped.append(f"{name}: packages[{i}] has no 'pkg' object")
                continue
            self._package(branch, pkg, f"{name} packages[{i}]")

    def _package(self, branch: str, pkg: Mapping[str, Any], name: str) -> None:
        origin = pkg.get("name")
        secfixes = pkg.get("secfixes") or {}
        if not isinstance(origin, str) or not isinstance(secfixes, dict):
            self.skipped.append(f"{name}: package entry needs 'name' and a 'secfixes' map")
            return
        self.packages.add((branch, origin))
        for version, ids in secfixes.items():
            version = str(version).strip()
            if ids is None:
                self.skipped.append(f"{name} {origin} {version}: no IDs listed for this fix")
                continue
            if isinstance(ids, str):  # a few hand-written entries give one ID as a string
                ids = ids.split()
            if not isinstance(ids, list):
                self.skipped.append(f"{name} {origin} {version}: IDs must be a list")
                continue
            for raw_id in ids:
                self.entries += 1
                vid = parse_id(str(raw_id))
                if vid is None:
                    self.skipped.append(f"{name} {origin} {version}: unrecognised ID {raw_id!r}")
                    continue
                if version == "0":
                    self.never_affected += 1
                    continue
                per = self.fixes.setdefault(vid, {})
                key = (branch, origin)
                # the same ID fixed twice in a branch: the later version is the fix that holds
                prev = per.get(key)
                if prev is None or _later(version, prev):
                    per[key] = version

    def records(self) -> list[Vulnerability]:
        out = []
        for vid in sorted(self.fixes):
            affected = [
                {
                    "package": {
                        "ecosystem": f"Alpine:{branch}",
                        "name": origin,
                        "purl": f"pkg:apk/alpine/{origin}",
                    },
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                    ],
                }
                for (branch, origin), fixed in sorted(self.fixes[vid].items())
            ]
            obj: dict[str, Any] = {
                "schema_version": "1.6.0",
                "id": f"ALPINE-{vid}",
                "modified": MODIFIED,
                "aliases": [vid] if vid.startswith("CVE-") else [],
                "affected": affected,
                "references": [
                    {"type": "ADVISORY", "url": f"https://security.alpinelinux.org/vuln/{vid}"}
                ],
                "database_specific": {"source": "alpine-secdb"},
            }
            if not obj["aliases"]:
                del obj["aliases"]
            out.append(parse_vulnerability(obj, "alpine secdb"))
        return out


def _later(a: str, b: str) -> bool:
    try:
        from customhouse.versions import get_scheme

        return get_scheme("apk").compare(a, b) > 0  # type: ignore[no-any-return]
    except Exception:  # versions package absent or version invalid: keep the first seen
        return False
