"""The shared package-URL builder against the purl-spec test suite."""

from __future__ import annotations

from typing import Any

import pytest

from customhouse.catalog.purl import PurlError, purl

# "build" vectors: components in, canonical purl out. Taken as data from the purl-spec
# repository (https://github.com/package-url/purl-spec): tests/types/{deb,apk,npm,golang}-test.json,
# tests/spec/specification-test.json and the older test-suite-data.json (its valid entries'
# components and canonical_purl). Left out: test-suite-data.json's
# "vcs_url=git%2Bhttps%3A%2F%2F…" row, which contradicts the current suite (":" and "/" are
# kept in qualifier values, see the npm vcs_url row below).
SPEC_BUILD_VECTORS: list[tuple[str, dict[str, Any], str]] = [
    (
        "debian can use qualifiers",
        {
            "type": "deb",
            "namespace": "debian",
            "name": "curl",
            "version": "7.50.3-1",
            "qualifiers": {"arch": "i386", "distro": "jessie"},
        },
        "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie",
    ),
    (
        "deb ubuntu without distro",
        {
            "type": "deb",
            "namespace": "ubuntu",
            "name": "dpkg",
            "version": "1.19.0.4",
            "qualifiers": {"arch": "amd64"},
        },
        "pkg:deb/ubuntu/dpkg@1.19.0.4?arch=amd64",
    ),
    (
        "deb source package, epoch colon kept",
        {
            "type": "deb",
            "namespace": "debian",
            "name": "attr",
            "version": "1:2.4.47-2",
            "qualifiers": {"arch": "source"},
        },
        "pkg:deb/debian/attr@1:2.4.47-2?arch=source",
    ),
    (
        "deb plus in version is percent-encoded",
        {
            "type": "deb",
            "namespace": "debian",
            "name": "attr",
            "version": "1:2.4.47-2+b1",
            "qualifiers": {"arch": "amd64"},
        },
        "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64",
    ),
    (
        "apk with arch",
        {
            "type": "apk",
            "namespace": "alpine",
            "name": "curl",
            "version": "7.83.0-r0",
            "qualifiers": {"arch": "x86"},
        },
        "pkg:apk/alpine/curl@7.83.0-r0?arch=x86",
    ),
    (
        "apk qualifiers sorted",
        {
            "type": "apk",
            "namespace": "alpine",
            "name": "libcrypto3",
            "version": "3.5.5-r0",
            "qualifiers": {"upstream": "openssl", "distro": "alpine-edge", "arch": "x86_64"},
        },
        "pkg:apk/alpine/libcrypto3@3.5.5-r0?arch=x86_64&distro=alpine-edge&upstream=openssl",
    ),
    (
        "npm can be scoped",
        {"type": "npm", "namespace": "@angular", "name": "animation", "version": "12.3.1"},
        "pkg:npm/%40angular/animation@12.3.1",
    ),
    (
        "npm without namespace",
        {"type": "npm", "name": "foobar", "version": "12.3.1"},
        "pkg:npm/foobar@12.3.1",
    ),
    (
        "npm vcs_url qualifier keeps : and / but encodes @",
        {
            "type": "npm",
            "name": "mypackage",
            "version": "12.4.5",
            "qualifiers": {"vcs_url": "git://host.com/path/to/repo.git@4345abcd34343"},
        },
        "pkg:npm/mypackage@12.4.5?vcs_url=git://host.com/path/to/repo.git%404345abcd34343",
    ),
    (
        "go purl without version and with subpath",
        {
            "type": "golang",
            "namespace": "google.golang.org",
            "name": "genproto",
            "subpath": "googleapis/api/annotations",
        },
        "pkg:golang/google.golang.org/genproto#googleapis/api/annotations",
    ),
    (
        "go purl with version and subpath",
        {
            "type": "golang",
            "namespace": "google.golang.org",
            "name": "genproto",
            "version": "abcdedf",
            "subpath": "googleapis/api/annotations",
        },
        "pkg:golang/google.golang.org/genproto@abcdedf#googleapis/api/annotations",
    ),
    (
        "go purl with subpath api",
        {
            "type": "golang",
            "namespace": "github.com/gorilla",
            "name": "context",
            "version": "234fd47e07d1004f0aed9c",
            "subpath": "api",
        },
        "pkg:golang/github.com/gorilla/context@234fd47e07d1004f0aed9c#api",
    ),
    (
        "generic multiple checksums: comma encoded, colon kept",
        {
            "type": "generic",
            "name": "openssl",
            "version": "1.1.10g",
            "qualifiers": {"checksum": "sha1:ad9503c3e994a4f,sha256:41bf9088b3a1e6c1ef1d"},
        },
        "pkg:generic/openssl@1.1.10g?checksum=sha1:ad9503c3e994a4f%2Csha256:41bf9088b3a1e6c1ef1d",
    ),
    (
        "valid maven purl",
        {"type": "maven", "namespace": "org.apache.commons", "name": "io", "version": "1.3.4"},
        "pkg:maven/org.apache.commons/io@1.3.4",
    ),
    (
        "maven without version",
        {"type": "maven", "namespace": "org.apache.commons", "name": "io"},
        "pkg:maven/org.apache.commons/io",
    ),
    (
        "maven often uses qualifiers",
        {
            "type": "Maven",
            "namespace": "org.apache.xmlgraphics",
            "name": "batik-anim",
            "version": "1.9.1",
            "qualifiers": {"repositorY_url": "repo.spring.io/release", "classifier": "sources"},
        },
        "pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?classifier=sources&repository_url=repo.spring.io/release",
    ),
    (
        "maven can come with a type qualifier",
        {
            "type": "maven",
            "namespace": "net.sf.jacob-project",
            "name": "jacob",
            "version": "1.14.3",
            "qualifiers": {"classifier": "x86", "type": "dll"},
        },
        "pkg:maven/net.sf.jacob-project/jacob@1.14.3?classifier=x86&type=dll",
    ),
    (
        "maven case sensitive namespace and name",
        {"type": "maven", "namespace": "HTTPClient", "name": "HTTPClient", "version": "0.3-3"},
        "pkg:maven/HTTPClient/HTTPClient@0.3-3",
    ),
    (
        "space in version and qualifier value",
        {
            "type": "maven",
            "namespace": "mygroup",
            "name": "myartifact",
            "version": "1.0.0 Final",
            "qualifiers": {"mykey": "my value"},
        },
        "pkg:maven/mygroup/myartifact@1.0.0%20Final?mykey=my%20value",
    ),
    (
        "Java gem can use a qualifier",
        {
            "type": "gem",
            "name": "jruby-launcher",
            "version": "1.1.2",
            "qualifiers": {"Platform": "java"},
        },
        "pkg:gem/jruby-launcher@1.1.2?platform=java",
    ),
    (
        "pypi names have special rules and not case sensitive",
        {"type": "PYPI", "name": "Django_package", "version": "1.11.1.dev1"},
        "pkg:pypi/django-package@1.11.1.dev1",
    ),
    (
        "rpm often use qualifiers",
        {
            "type": "Rpm",
            "namespace": "fedora",
            "name": "curl",
            "version": "7.50.3-1.fc25",
            "qualifiers": {"Arch": "i386", "Distro": "fedora-25"},
        },
        "pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386&distro=fedora-25",
    ),
    (
        "bitbucket namespace and name should be lowercased",
        {
            "type": "bitbucket",
            "namespace": "birKenfeld",
            "name": "pyGments-main",
            "version": "244fd47e07d1014f0aed9c",
        },
        "pkg:bitbucket/birkenfeld/pygments-main@244fd47e07d1014f0aed9c",
    ),
    (
        "github namespace and name should be lowercased",
        {
            "type": "github",
            "namespace": "Package-url",
            "name": "purl-Spec",
            "version": "244fd47e07d1004f0aed9c",
        },
        "pkg:github/package-url/purl-spec@244fd47e07d1004f0aed9c",
    ),
    (
        "nuget names are case sensitive",
        {"type": "Nuget", "name": "EnterpriseLibrary.Common", "version": "6.0.1304"},
        "pkg:nuget/EnterpriseLibrary.Common@6.0.1304",
    ),
    (
        "docker hash image id as version, colon kept",
        {
            "type": "docker",
            "namespace": "customer",
            "name": "dockerimage",
            "version": "sha256:244fd47e07d1004f0aed9c",
            "qualifiers": {"repository_url": "gcr.io"},
        },
        "pkg:docker/customer/dockerimage@sha256:244fd47e07d1004f0aed9c?repository_url=gcr.io",
    ),
    (
        "conda purl with qualifiers",
        {
            "type": "conda",
            "name": "absl-py",
            "version": "0.4.1",
            "qualifiers": {
                "type": "tar.bz2",
                "subdir": "linux-64",
                "channel": "main",
                "build": "py36h06a4308_0",
            },
        },
        "pkg:conda/absl-py@0.4.1?build=py36h06a4308_0&channel=main&subdir=linux-64&type=tar.bz2",
    ),
    (
        "swift purl with a two-segment namespace",
        {
            "type": "swift",
            "namespace": "github.com/Alamofire",
            "name": "Alamofire",
            "version": "5.4.3",
        },
        "pkg:swift/github.com/Alamofire/Alamofire@5.4.3",
    ),
]

# Components the spec's "build" tests say must fail.
SPEC_BUILD_FAILURES: list[tuple[str, dict[str, Any]]] = [
    ("a type is always required", {"type": "", "name": "EnterpriseLibrary.Common"}),
    ("type cannot start with a number", {"type": "3nginx", "name": "nginx"}),
    ("no colon in type", {"type": "nginx:a", "name": "nginx"}),
    ("no ampersand in type", {"type": "n&g?inx", "name": "nginx"}),
    ("a name is required", {"type": "maven", "name": ""}),
    (
        "checks for invalid qualifier keys",
        {"type": "npm", "name": "myartifact", "qualifiers": {"in production": "true"}},
    ),
]

# Our own rows for rules the vectors above do not reach (from the spec's component rules).
RULE_VECTORS: list[tuple[str, dict[str, Any], str]] = [
    (
        "empty qualifier values are left out",
        {
            "type": "deb",
            "namespace": "debian",
            "name": "a",
            "version": "1",
            "qualifiers": {"arch": ""},
        },
        "pkg:deb/debian/a@1",
    ),
    (
        "namespace and subpath: empty, '.' and '..' segments dropped, slashes stripped",
        {"type": "golang", "namespace": "/github.com//x/", "name": "y", "subpath": "/a/./../b/"},
        "pkg:golang/github.com/x/y#a/b",
    ),
    (
        "a slash inside a name or version is encoded",
        {"type": "generic", "name": "a/b", "version": "1/2"},
        "pkg:generic/a%2Fb@1%2F2",
    ),
    (
        "non-ASCII is UTF-8 percent-encoded with upper-case hex",
        {"type": "npm", "name": "foo", "version": "1.2.3-\U0001f603"},
        "pkg:npm/foo@1.2.3-%F0%9F%98%83",
    ),
    (
        "separators inside components are encoded",
        {"type": "generic", "name": "a?b#c", "version": "1@2&3=4"},
        "pkg:generic/a%3Fb%23c@1%402%263%3D4",
    ),
    (
        "deb and apk names are lowercased; golang keeps the case of module paths",
        {"type": "golang", "namespace": "github.com/Azure", "name": "Go-AutoRest", "version": "v1"},
        "pkg:golang/github.com/Azure/Go-AutoRest@v1",
    ),
    (
        "deb name lowercased",
        {"type": "deb", "namespace": "Debian", "name": "LibFoo", "version": "1"},
        "pkg:deb/debian/libfoo@1",
    ),
]


def _build(c: dict[str, Any]) -> str:
    return purl(
        c["type"],
        c["name"],
        c.get("version") or "",
        namespace=c.get("namespace"),
        qualifiers=c.get("qualifiers"),
        subpath=c.get("subpath"),
    )


@pytest.mark.parametrize(
    ("components", "expected"),
    [pytest.param(c, e, id=d) for d, c, e in SPEC_BUILD_VECTORS + RULE_VECTORS],
)
def test_builds_the_canonical_purl(components: dict[str, Any], expected: str) -> None:
    assert _build(components) == expected


@pytest.mark.parametrize("components", [pytest.param(c, id=d) for d, c in SPEC_BUILD_FAILURES])
def test_rejects_invalid_components(components: dict[str, Any]) -> None:
    with pytest.raises(PurlError):
        _build(components)


def test_duplicate_qualifier_keys_differing_in_case_are_rejected() -> None:
    with pytest.raises(PurlError, match="duplicate"):
        purl("deb", "a", "1", "debian", {"arch": "amd64", "ARCH": "i386"})


def test_undecodable_text_is_a_purl_error_not_a_crash() -> None:
    with pytest.raises(PurlError):
        purl("deb", "a", "1\udcff", "debian")
