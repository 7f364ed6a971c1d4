"""The matcher on records that list affected versions: the ecosystem's equality decides, not the text."""

from __future__ import annotations

from pathlib import Path

import pytest

from customhouse.advisories.osv import parse_vulnerability
from customhouse.advisories.store import AdvisoryStore, StoreBuilder
from customhouse.catalog.interface import GEM, GOLANG, MAVEN, NPM, PYPI, Package
from customhouse.match.matcher import Matcher

OSV_ECOSYSTEM = {PYPI: "PyPI", NPM: "npm", GOLANG: "Go", MAVEN: "Maven", GEM: "RubyGems"}


@pytest.mark.parametrize(
    ("ecosystem", "listed", "installed", "found"),
    [
        (PYPI, ["0.9", "1.0"], "1.0.0", True),  # PEP 440: 1.0 == 1.0.0
        (PYPI, ["1.0.0"], "1", True),
        (PYPI, ["1.0-rc1"], "1.0rc1", True),
        (PYPI, ["1.0"], "1.0.1", False),
        (PYPI, ["1.0"], "1.0.post1", False),
        (PYPI, ["not a version", "2.0"], "1.0", False),  # unparseable entries match nothing
        (NPM, ["1.0.0+build.5"], "1.0.0", True),  # build metadata is ignored
        (NPM, ["1.0.0-rc.1"], "1.0.0", False),
        (GOLANG, ["v1.2.3+incompatible"], "v1.2.3", True),
        (MAVEN, ["1.0"], "1.0.0", True),  # Maven: compared by the scheme, not keyed
        (MAVEN, ["1.0-SNAPSHOT"], "1.0", False),
        (GEM, ["1.0"], "1.0.0", True),
    ],
)
def test_a_listed_version_is_found_by_version_equality(
    tmp_path: Path, ecosystem: str, listed: list[str], installed: str, found: bool
) -> None:
    record = {
        "id": "GHSA-list-0001",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-2024-9999"],
        "affected": [
            {
                "package": {"ecosystem": OSV_ECOSYSTEM[ecosystem], "name": "demo"},
                "versions": listed,
            }
        ],
    }
    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        b.add([parse_vulnerability(record)], "test")
    pkg = Package(ecosystem, "demo", installed, f"pkg:{ecosystem}/demo@{installed}", "/x")
    with AdvisoryStore(db) as store:
        result = Matcher(store).match([pkg], None)
    assert [f.id for f in result.findings] == (["CVE-2024-9999"] if found else [])
    assert result.warnings == []


def test_ranges_and_lists_together(tmp_path: Path) -> None:
    """An entry with a range and a list: either one makes the version affected."""
    record = {
        "id": "PYSEC-0000-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.5"}]}
                ],
                "versions": ["1.0", "2.0", "2.1"],
            }
        ],
    }
    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        b.add([parse_vulnerability(record)], "test")
    with AdvisoryStore(db) as store:
        matcher = Matcher(store)
        for installed, hit in [("1.0.0", True), ("1.5", False), ("2.3", True), ("2.5", False)]:
            pkg = Package(PYPI, "demo", installed, f"pkg:pypi/demo@{installed}", "/x")
            findings = matcher.match([pkg], None).findings
            assert bool(findings) is hit, installed
            if hit:
                assert findings[0].fixed == "2.5"  # the first fix above the installed version
