"""Inventory x advisories -> findings.

OS packages are matched by their *source* package against the advisories of the
detected release (Debian advisories are keyed by source package; Alpine's by
origin). Language packages are matched by ecosystem and normalized name. Version
ranges are evaluated with the ecosystem's own scheme. Records that share an alias
(a CVE behind a GHSA and a PYSEC, say) become one finding per package.
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol

from customhouse.advisories.osv import Affected, Candidate, Vulnerability
from customhouse.catalog.interface import (
    APK,
    DEB,
    GEM,
    GOLANG,
    MAVEN,
    NPM,
    PYPI,
    RPM,
    Distro,
    Package,
)
from customhouse.match.distro import Release, release_of

LANGUAGE_ECOSYSTEMS = {PYPI: "PyPI", NPM: "npm", GOLANG: "Go", MAVEN: "Maven", GEM: "RubyGems"}
SEVERITY_ORDER = {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}

FIXED = "fixed"
NO_FIX = "no_fix"
WONT_FIX = "wont_fix"
NOT_AFFECTED = "not_affected"


# Finding is a NamedTuple and MatchResult a slotted class, not dataclasses: the same
# fields and behaviour without importing ``dataclasses`` on the start-up path of a scan.
# The reports read Findings attribute by attribute, never serialize them whole.


class Finding(NamedTuple):
    id: str  # the preferred id: a CVE when the group has one
    aliases: tuple[str, ...]  # every other id of the group
    package: Package
    installed: str  # the version compared (the source version for OS packages)
    fixed: str | None
    status: str  # fixed | no_fix | wont_fix
    severity: str  # CRITICAL | HIGH | MEDIUM | LOW | UNKNOWN
    severity_source: str  # vendor | cvss | none
    cvss_score: float | None
    cvss_vector: str | None
    summary: str
    references: tuple[str, ...]
    ecosystem: str
    records: tuple[str, ...]  # advisory record ids that matched
    created_by: str | None = None  # the Dockerfile instruction of the package's layer

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.package.ecosystem, self.package.name, self.package.version, self.id)

    @property
    def all_ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)

    @property
    def fixable(self) -> bool:
        return self.status == FIXED


class MatchResult:
    """What :meth:`Matcher.match` found; filled in as the match proceeds."""

    __slots__ = ("findings", "os_scanned", "packages_matched", "release", "warnings")

    def __init__(
        self,
        findings: list[Finding],
        warnings: list[str] | None = None,
        release: Release | None = None,
        os_scanned: bool = False,
        packages_matched: int = 0,
    ) -> None:
        self.findings = findings
        self.warnings: list[str] = [] if warnings is None else warnings
        self.release = release
        self.os_scanned = os_scanned
        self.packages_matched = packages_matched


class AdvisorySource(Protocol):
    """The store lookups the matcher needs (an AdvisoryStore fits)."""

    def candidates(self, ecosystem: str, name: str, version: str) -> list[Candidate]: ...

    def get_many(self, ids: Iterable[str]) -> dict[str, Vulnerability]: ...


def _find(parent: dict[str, str], x: str) -> str:
    while parent.setdefault(x, x) != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


_URGENCY = {
    "unimportant": "LOW",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
}  # Debian's words


def _vendor_severity(v: Vulnerability, a: Affected) -> str | None:
    for source in (a.ecosystem_specific, a.database_specific, v.database_specific):
        urgency = source.get("urgency") if isinstance(source, dict) else None
        if isinstance(urgency, str) and urgency.lower().rstrip("*") in _URGENCY:
            return _URGENCY[urgency.lower().rstrip("*")]
        sev = source.get("severity") if isinstance(source, dict) else None
        if isinstance(sev, str) and sev.upper() in SEVERITY_ORDER:
            return sev.upper()
        if isinstance(sev, str) and sev.upper() == "MODERATE":  # GitHub's word for MEDIUM
            return "MEDIUM"
    return None


def _cvss(v: Vulnerability, a: Affected) -> tuple[float | None, str | None, str | None]:
    """(score, vector, qualitative severity) of the best CVSS vector the record carries."""
    from customhouse.advisories import cvss

    vectors = [s for t, s in (*a.severity, *v.severity) if t.startswith("CVSS")]
    nvd = v.database_specific.get("nvd_cvss") if isinstance(v.database_specific, dict) else None
    if isinstance(nvd, str):
        vectors.append(nvd)
    elif isinstance(nvd, list):
        vectors.extend(x for x in nvd if isinstance(x, str))
    best: tuple[float | None, str | None, str | None] = (None, None, None)
    for vec in vectors:
        try:
            sc, sev = cvss.score(vec)
        except Exception:  # an unparseable vector is skipped, never fatal
            continue
        if best[0] is None or sc > best[0]:
            best = (sc, vec, sev.upper())
    return best


def _fixed_version(scheme: Any, installed: Any, a: Affected) -> str | None:
    """The lowest fix above the installed version within the ranges that apply."""
    candidates = []
    for r in a.ranges:
        if r.type not in ("ECOSYSTEM", "SEMVER"):
            continue
        for e in r.events:
            if e.kind != "fixed":
                continue
            try:
                if scheme.compare(e.value, installed) > 0:
                    candidates.append(scheme.parse(e.value))
            except Exception:
                continue
    return str(min(candidates)) if candidates else None


class Matcher:
    def __init__(self, store: AdvisorySource) -> None:
        self.store = store

    def match(
        self,
        packages: Sequence[Package],
        distro: Distro | None,
        *,
        created_by: Sequence[str | None] = (),
    ) -> MatchResult:
        from customhouse.versions import scheme_for_ecosystem

        result = MatchResult(findings=[])
        os_packages = [p for p in packages if p.ecosystem in (DEB, APK, RPM)]
        release = release_of(distro) if distro is not None else None
        result.release = release
        # (package, ecosystem, installed version, the store's candidate entries)
        raw: list[tuple[Package, str, str, list[Candidate]]] = []

        if os_packages:
            if release is None:
                result.warnings.append(
                    f"{len(os_packages)} OS packages were found but the distribution is unknown (no os-release):"
                    " they were NOT checked for vulnerabilities"
                )
            elif release.ecosystem is None or not self._has(release.ecosystem):
                result.warnings.append(
                    f"no advisories for {release.label} in the database: its {len(os_packages)} OS packages were"
                    " NOT checked for vulnerabilities (unsupported release, or import its feed)"
                )
            else:
                result.os_scanned = True
                if release.end_of_life():
                    result.warnings.append(
                        f"{release.label} reached end of life on {release.eol}: it gets no security fixes;"
                        " findings are incomplete and unfixed issues will stay unfixed"
                    )
                for p in os_packages:
                    name = p.source_name or p.name
                    installed = (p.source_version or p.version) if p.ecosystem == DEB else p.version
                    found = self.store.candidates(release.ecosystem, name, installed)
                    if found:
                        raw.append((p, release.ecosystem, installed, found))
        for p in packages:
            eco = LANGUAGE_ECOSYSTEMS.get(p.ecosystem)
            if eco is None or p.os_owned:
                continue  # OS-owned language packages are covered by the OS advisories
            found = self.store.candidates(eco, p.name, p.version)
            if found:
                raw.append((p, eco, p.version, found))

        matched: list[tuple[Package, str, str, Affected, str, str | None]] = []
        for p, eco, installed, found in raw:
            for vid, a, listed in found:
                try:
                    scheme = scheme_for_ecosystem(eco)
                    inst = scheme.parse(installed)
                    # listed: the store found the version in the entry's keyed versions;
                    # a.versions holds the listed versions it could not key
                    if not listed and not scheme.affected(inst, a.ranges, a.versions):
                        continue
                    fixed = _fixed_version(scheme, inst, a)
                except (
                    Exception
                ) as e:  # an unparseable installed version must be visible, not silent
                    result.warnings.append(
                        f"{p.ecosystem} {p.name} {installed}: cannot compare with {vid}: {e}"
                    )
                    continue
                matched.append((p, eco, vid, a, installed, fixed))

        records = self.store.get_many({m[2] for m in matched})  # whole records for the hits only
        hits = [
            (p, eco, records[vid], a, i, f) for p, eco, vid, a, i, f in matched if vid in records
        ]
        result.findings = self._merge(hits, created_by)
        result.packages_matched = len({f.package.key for f in result.findings})
        return result

    def _has(self, ecosystem: str) -> bool:
        has = getattr(self.store, "has_ecosystem", None)
        return bool(has(ecosystem)) if has is not None else True

    def _merge(
        self,
        hits: Iterable[tuple[Package, str, Vulnerability, Affected, str, str | None]],
        created_by: Sequence[str | None],
    ) -> list[Finding]:
        # group records per package by shared ids (union-find over id/aliases)
        per_pkg: dict[
            tuple[str, str, str, str],
            list[tuple[Package, str, Vulnerability, Affected, str, str | None]],
        ] = {}
        for h in hits:
            per_pkg.setdefault(h[0].key, []).append(h)
        findings = []
        for group in per_pkg.values():
            parent: dict[str, str] = {}
            for _, _, v, _, _, _ in group:
                for alias in v.aliases:
                    parent[_find(parent, alias)] = _find(parent, v.id)
                _find(parent, v.id)
            clusters: dict[
                str, list[tuple[Package, str, Vulnerability, Affected, str, str | None]]
            ] = {}
            for h in group:
                clusters.setdefault(_find(parent, h[2].id), []).append(h)
            for members in clusters.values():
                findings.append(self._finding(members, created_by))
        findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.package.name, f.id))
        return findings

    @staticmethod
    def _finding(
        members: list[tuple[Package, str, Vulnerability, Affected, str, str | None]],
        created_by: Sequence[str | None],
    ) -> Finding:
        p, eco, _, _, installed, _ = members[0]
        ids: list[str] = []
        for _, _, v, _, _, _ in members:
            for i in v.all_ids:
                if i not in ids:
                    ids.append(i)
        cves = sorted(i for i in ids if i.startswith("CVE-"))
        primary = cves[0] if cves else sorted(ids)[0]
        fixes = [f for *_, f in members if f]
        fixed = None
        if fixes:
            from customhouse.versions import scheme_for_ecosystem

            scheme = scheme_for_ecosystem(eco)
            fixed = str(max(scheme.parse(f) for f in fixes))  # the fix that closes every record
        status = FIXED if fixed else NO_FIX
        if not fixed and any(
            isinstance(a.ecosystem_specific, dict)
            and a.ecosystem_specific.get("status") == WONT_FIX
            for *_, a, _, _ in members
        ):
            status = WONT_FIX
        vendor = next((s for _, _, v, a, _, _ in members if (s := _vendor_severity(v, a))), None)
        score = vector = cvss_sev = None
        for _, _, v, a, _, _ in members:
            sc, vec, sev = _cvss(v, a)
            if sc is not None and (score is None or sc > score):
                score, vector, cvss_sev = sc, vec, sev
        severity = vendor or cvss_sev or "UNKNOWN"
        summary = next((v.summary for _, _, v, _, _, _ in members if v.summary), None) or next(
            (
                (v.details or "").strip().split("\n")[0][:200]
                for _, _, v, _, _, _ in members
                if v.details
            ),
            "",
        )
        refs: list[str] = []
        for _, _, v, _, _, _ in members:
            for _, url in v.references:
                if url not in refs:
                    refs.append(url)
        layer_cmd = (
            created_by[p.layer] if p.layer is not None and p.layer < len(created_by) else None
        )
        return Finding(
            id=primary,
            aliases=tuple(i for i in ids if i != primary),
            package=p,
            installed=installed,
            fixed=fixed,
            status=status,
            severity=severity,
            severity_source="vendor" if vendor else ("cvss" if cvss_sev else "none"),
            cvss_score=score,
            cvss_vector=vector,
            summary=summary,
            references=tuple(refs[:20]),
            ecosystem=eco,
            records=tuple(sorted({v.id for _, _, v, _, _, _ in members})),
            created_by=layer_cmd,
        )
