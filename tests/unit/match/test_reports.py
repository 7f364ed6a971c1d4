"""Scan report formats against their published schemas: JSON (ours), SARIF 2.1.0, CycloneDX 1.6.

One image (Debian packages built from two source packages, plus a PyPI package) is
scanned against a small OSV feed whose records carry vendor urgencies, CVSS v2/v3.1
vectors, aliases, a won't-fix entry and references; an OpenVEX statement and an ignore
entry suppress one finding each. Every format is produced by the real CLI.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from customhouse.advisories.importer import import_paths
from customhouse.advisories.store import StoreBuilder
from helpers.imagewriter import Layer, directory, file, write_layout

REPO = Path(__file__).resolve().parents[3]
SCAN_SCHEMA = REPO / "docs" / "scan-report.schema.json"
SARIF_SCHEMA = REPO / "tests" / "data" / "schemas" / "sarif-schema-2.1.0.json"
SITE = "usr/lib/python3.11/site-packages"

OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
STATUS = (
    "Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo (1.2-3)\n"
    "Version: 1.2-3+b1\nDescription: x\n\n"
    "Package: bar\nStatus: install ok installed\nArchitecture: amd64\n"
    "Version: 2.0-1\nDescription: x\n\n"
    "Package: baz\nStatus: install ok installed\nArchitecture: amd64\n"
    "Version: 0.9-1\nDescription: x\n"
)
URLLIB3_META = b"Metadata-Version: 2.1\nName: urllib3\nVersion: 1.24.1\n"


def _rec(
    vid: str, eco: str, name: str, events: list[dict[str, str]], **extra: Any
) -> dict[str, Any]:
    affected: dict[str, Any] = {
        "package": {"ecosystem": eco, "name": name},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    }
    affected.update(extra.pop("affected_extra", {}))
    return {"id": vid, "modified": "2024-01-01T00:00:00Z", "affected": [affected], **extra}


RECORDS = [
    # vendor urgency and a CVSS v2 vector (no prefix)
    _rec(
        "DEBIAN-CVE-2024-0001",
        "Debian:12",
        "foo",
        [{"introduced": "0"}, {"fixed": "1.2-3+deb12u1"}],
        aliases=["CVE-2024-0001"],
        severity=[{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}],
        references=[
            {"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/CVE-2024-0001"}
        ],
        affected_extra={"ecosystem_specific": {"urgency": "high"}},
    ),
    # no fix, won't fix
    _rec(
        "DEBIAN-CVE-2024-0002",
        "Debian:12",
        "bar",
        [{"introduced": "0"}],
        aliases=["CVE-2024-0002"],
        affected_extra={"ecosystem_specific": {"status": "wont_fix"}},
    ),
    # suppressed by the ignore file
    _rec(
        "DEBIAN-CVE-2024-0003",
        "Debian:12",
        "baz",
        [{"introduced": "0"}, {"fixed": "1.0-1"}],
        aliases=["CVE-2024-0003"],
    ),
    # severity from CVSS v3.1 only; GHSA + PYSEC merged through the CVE
    _rec(
        "GHSA-q2q7-5pp4-w6pg",
        "PyPI",
        "urllib3",
        [{"introduced": "1.25.4"}, {"fixed": "1.26.5"}],
        aliases=["CVE-2021-33503"],
    ),
    _rec(
        "PYSEC-2019-132",
        "PyPI",
        "urllib3",
        [{"introduced": "0"}, {"fixed": "1.24.2"}],
        aliases=["CVE-2019-11324", "GHSA-mh33-7rrq-662w"],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
        references=[
            {"type": "WEB", "url": "https://github.com/urllib3/urllib3/compare/1.24.1...1.24.2"}
        ],
    ),
    # suppressed by OpenVEX not_affected
    _rec(
        "PYSEC-2019-133",
        "PyPI",
        "urllib3",
        [{"introduced": "0"}, {"fixed": "1.24.3"}],
        aliases=["CVE-2019-11236"],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}],
    ),
]
VEX = {
    "@context": "https://openvex.dev/ns/v0.2.0",
    "@id": "https://example.com/vex/reports",
    "author": "sec team",
    "timestamp": "2024-06-01T00:00:00Z",
    "version": 1,
    "statements": [
        {
            "vulnerability": {"name": "CVE-2019-11236"},
            "products": [{"@id": "pkg:pypi/urllib3"}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
        }
    ],
}
IGNORE = "vulnerabilities:\n  - id: CVE-2024-0003\n    package: baz\n    reason: baz is never run\n"


@dataclass(frozen=True)
class Scan:
    workdir: Path
    args: tuple[str, ...]

    def run(self, fmt: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "customhouse", "scan", *self.args, "--format", fmt, *extra],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=self.workdir,
        )

    def doc(self, fmt: str) -> dict[str, Any]:
        proc = self.run(fmt)
        assert proc.returncode == 0, proc.stderr
        out: dict[str, Any] = json.loads(proc.stdout)
        return out


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    tmp = tmp_path_factory.mktemp("reports")
    feed = tmp / "feed"
    feed.mkdir()
    for r in RECORDS:
        (feed / f"{r['id']}.json").write_text(json.dumps(r))
    db = tmp / "advisories.db"
    with StoreBuilder(db) as b:
        import_paths(b, [feed])
    dist = f"{SITE}/urllib3-1.24.1.dist-info"
    img = write_layout(
        tmp / "img",
        [
            Layer(
                [
                    directory("etc"),
                    file("etc/os-release", OS_RELEASE),
                    directory("var"),
                    directory("var/lib"),
                    directory("var/lib/dpkg"),
                    file("var/lib/dpkg/status", STATUS.encode()),
                ]
            ),
            Layer(
                [
                    *(directory("/".join(dist.split("/")[:i])) for i in range(1, 6)),
                    file(f"{dist}/METADATA", URLLIB3_META),
                ]
            ),
        ],
    )
    (tmp / "vex.json").write_text(json.dumps(VEX))
    (tmp / ".customhouse-ignore.yaml").write_text(IGNORE)
    return Scan(tmp, (img.source, "--db", str(db), "--vex", str(tmp / "vex.json"), "--no-cache"))


# --------------------------------------------------------------------------- JSON


def test_json_report_validates_against_the_documented_schema(scan: Scan) -> None:
    doc = scan.doc("json")
    schema = json.loads(SCAN_SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)
    r = doc["results"][0]
    # the scan exercised what the schema describes: each status, vendor/cvss severity, suppressions
    assert {v["status"] for v in r["vulnerabilities"]} == {"fixed", "wont_fix"}
    assert {v["severity_source"] for v in r["vulnerabilities"]} >= {"vendor", "cvss", "none"}
    assert {s["suppressed_by"] for s in r["suppressed"]} == {"vex", "ignore-file"}


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    bad = copy.deepcopy(doc)
    node = bad
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return bad


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema",), "customhouse.scan/v2"),
        (("results", 0, "vulnerabilities", 0, "severity"), "SEVERE"),
        (("results", 0, "vulnerabilities", 0, "status"), "patched"),
        (("results", 0, "vulnerabilities", 0, "fixed_version"), 3),
        (("results", 0, "suppressed", 0, "suppressed_by"), "someone"),
        (("results", 0, "summary", "by_severity", "SEVERE"), 1),
        (("results", 0, "os_scanned"), "yes"),
    ],
)
def test_json_schema_rejects_a_report_that_breaks_it(
    scan: Scan, path: tuple[Any, ...], value: Any
) -> None:
    doc = scan.doc("json")
    schema = json.loads(SCAN_SCHEMA.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(_set(doc, path, value))


def test_json_schema_requires_every_field_the_report_writes(scan: Scan) -> None:
    """Each key to_json writes is listed as required in the schema (nothing undocumented)."""
    doc = scan.doc("json")
    schema = json.loads(SCAN_SCHEMA.read_text())
    defs = schema["$defs"]
    r = doc["results"][0]
    assert set(doc) == set(schema["required"])
    assert set(r) == set(defs["result"]["required"])
    assert set(r["vulnerabilities"][0]) == set(defs["finding"]["required"])
    assert set(r["vulnerabilities"][0]["package"]) == set(
        defs["finding"]["properties"]["package"]["required"]
    )


# --------------------------------------------------------------------------- SARIF


def test_sarif_validates_against_the_oasis_schema(scan: Scan) -> None:
    doc = scan.doc("sarif")
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    assert len(doc["runs"][0]["results"]) == 3  # the suppressed two are not alerts


def test_sarif_has_what_github_code_scanning_needs(scan: Scan) -> None:
    run = scan.doc("sarif")["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    fingerprints = set()
    for res in run["results"]:
        assert res["ruleId"] in rules
        loc = res["locations"][0]
        assert loc.get("physicalLocation", {}).get("artifactLocation", {}).get("uri") or loc.get(
            "logicalLocations"
        )
        fp = res["partialFingerprints"]
        assert fp and all(isinstance(v, str) and v for v in fp.values())
        fingerprints.add(json.dumps(fp, sort_keys=True))
        assert res["message"]["text"]
    assert len(fingerprints) == len(run["results"])  # one alert per package x vulnerability
    for rule in rules.values():
        sev = float(rule["properties"]["security-severity"])
        assert 0.0 <= sev <= 10.0
        assert rule["shortDescription"]["text"]


# --------------------------------------------------------------------------- CycloneDX


def test_cyclonedx_validates_against_the_bundled_1_6_schema(scan: Scan) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    proc = scan.run("cyclonedx")
    assert proc.returncode == 0, proc.stderr
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(proc.stdout)
    assert errors is None, errors
    doc = json.loads(proc.stdout)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"


def test_cyclonedx_root_is_the_image_and_components_are_the_affected_packages(
    scan: Scan,
) -> None:
    doc = scan.doc("cyclonedx")
    root = doc["metadata"]["component"]
    assert root["type"] == "container" and root["purl"].startswith("pkg:oci/")
    assert root["version"].startswith("sha256:")
    purls = {c["purl"] for c in doc["components"]}
    assert purls == {
        "pkg:deb/debian/libfoo1@1.2-3%2Bb1?arch=amd64&distro=debian-12",
        "pkg:deb/debian/bar@2.0-1?arch=amd64&distro=debian-12",
        "pkg:deb/debian/baz@0.9-1?arch=amd64&distro=debian-12",
        "pkg:pypi/urllib3@1.24.1",
    }
    refs = {c["bom-ref"] for c in doc["components"]}
    (top,) = [d for d in doc["dependencies"] if d["ref"] == root["bom-ref"]]
    assert set(top["dependsOn"]) == refs


# id -> (component name, analysis state, affects status, recommendation, rating methods)
CDX_EXPECTED = {
    "CVE-2024-0001": (
        "libfoo1",
        "exploitable",
        "affected",
        "Upgrade libfoo1 to 1.2-3+deb12u1 or later",
        {"other", "CVSSv2"},
    ),
    "CVE-2024-0002": ("bar", "exploitable", "affected", None, {"other"}),
    "CVE-2019-11324": (
        "urllib3",
        "exploitable",
        "affected",
        "Upgrade urllib3 to 1.24.2 or later",
        {"CVSSv31"},
    ),
    "CVE-2024-0003": (
        "baz",
        "not_affected",
        "unaffected",
        "Upgrade baz to 1.0-1 or later",
        {"other"},
    ),
    "CVE-2019-11236": (
        "urllib3",
        "not_affected",
        "unaffected",
        "Upgrade urllib3 to 1.24.3 or later",
        {"CVSSv3"},
    ),
}


@pytest.mark.parametrize("vid", sorted(CDX_EXPECTED))
def test_cyclonedx_vulnerability_entries(scan: Scan, vid: str) -> None:
    doc = scan.doc("cyclonedx")
    names = {c["bom-ref"]: c["name"] for c in doc["components"]}
    assert {v["id"] for v in doc["vulnerabilities"]} == set(CDX_EXPECTED)
    (v,) = [v for v in doc["vulnerabilities"] if v["id"] == vid]
    name, state, status, recommendation, methods = CDX_EXPECTED[vid]
    (target,) = v["affects"]
    assert names[target["ref"]] == name
    assert target["versions"][0]["status"] == status
    assert v["analysis"]["state"] == state
    assert v.get("recommendation") == recommendation
    assert {r["method"] for r in v["ratings"]} == methods
    assert v["source"]["name"] == "NVD"
    props = {(p["name"], p["value"]) for p in v.get("properties", ())}
    assert any(n == "customhouse:advisory:record" for n, _ in props)


def test_cyclonedx_carries_cvss_scores_aliases_and_suppression_reasons(scan: Scan) -> None:
    doc = scan.doc("cyclonedx")
    by_id = {v["id"]: v for v in doc["vulnerabilities"]}
    (cvss,) = [r for r in by_id["CVE-2019-11324"]["ratings"] if r["method"] == "CVSSv31"]
    assert cvss["score"] == 7.5 and cvss["severity"] == "high"
    # the library writes the v3 vector without its "CVSS:3.1/" prefix (the method names it)
    assert cvss["vector"] == "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
    assert {r["id"] for r in by_id["CVE-2019-11324"]["references"]} == {
        "GHSA-mh33-7rrq-662w",
        "PYSEC-2019-132",
    }
    assert by_id["CVE-2024-0001"]["analysis"]["response"] == ["update"]
    assert by_id["CVE-2024-0002"]["analysis"]["response"] == ["will_not_fix"]
    vex = by_id["CVE-2019-11236"]["analysis"]
    assert vex["justification"] == "code_not_reachable"
    assert "vulnerable_code_not_in_execute_path" in vex["detail"]
    assert "baz is never run" in by_id["CVE-2024-0003"]["analysis"]["detail"]
    assert {a["url"] for a in by_id["CVE-2024-0001"]["advisories"]} == {
        "https://security-tracker.debian.org/tracker/CVE-2024-0001"
    }


def test_cyclonedx_of_two_images_has_both_as_containers_and_stays_valid(scan: Scan) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    image = scan.args[0]
    proc = scan.run("cyclonedx", image)  # the same image twice: refs must not collide
    assert proc.returncode == 0, proc.stderr
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(proc.stdout) is None
    doc = json.loads(proc.stdout)
    assert "component" not in doc["metadata"]
    containers = [c for c in doc["components"] if c["type"] == "container"]
    assert len(containers) == 2
    assert len(doc["vulnerabilities"]) == 2 * len(CDX_EXPECTED)
    assert len({v["bom-ref"] for v in doc["vulnerabilities"]}) == len(doc["vulnerabilities"])
