"""Image reference grammar and normalization.

Most cases are facts taken from Docker's ``distribution/reference`` test tables
(``normalize_test.go``: TestValidateReferenceName, TestValidateRemoteName,
TestParseRepositoryInfo, TestNormalizedSplitHostname; ``reference_test.go``:
TestReferenceParse), checked against ``ParseNormalizedNamed`` + ``TagNameOnly``
semantics. Cases marked "customhouse" are our own deliberate choices.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customhouse.digest import Digest
from customhouse.errors import InputError, ReferenceError_
from customhouse.reference import ImageReference

# digests used in distribution/reference's own tests
D = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
F = "sha256:" + "f" * 64
F512 = "sha512:" + "f" * 128
HUB = "docker.io"

# input -> registry, repository, tag, digest, official, publisher, familiar
VALID: list[tuple[str, str, str, str | None, str | None, bool, str, str]] = [
    # Docker Hub, familiar forms
    ("nginx", HUB, "library/nginx", "latest", None, True, "docker.io/library", "nginx:latest"),
    ("nginx:1.25", HUB, "library/nginx", "1.25", None, True, "docker.io/library", "nginx:1.25"),
    (f"nginx@{D}", HUB, "library/nginx", None, D, True, "docker.io/library", f"nginx@{D}"),
    (
        f"nginx:1.25@{D}",
        HUB,
        "library/nginx",
        "1.25",
        D,
        True,
        "docker.io/library",
        f"nginx:1.25@{D}",
    ),
    (
        f"busybox:latest@{D}",
        HUB,
        "library/busybox",
        "latest",
        D,
        True,
        "docker.io/library",
        f"busybox:latest@{D}",
    ),
    (
        "library/debian",
        HUB,
        "library/debian",
        "latest",
        None,
        True,
        HUB + "/library",
        "debian:latest",
    ),
    (
        "docker.io/library/debian",
        HUB,
        "library/debian",
        "latest",
        None,
        True,
        HUB + "/library",
        "debian:latest",
    ),
    (
        "docker.io/debian",
        HUB,
        "library/debian",
        "latest",
        None,
        True,
        HUB + "/library",
        "debian:latest",
    ),
    (
        "docker.io/nginx",
        HUB,
        "library/nginx",
        "latest",
        None,
        True,
        HUB + "/library",
        "nginx:latest",
    ),
    (
        "index.docker.io/debian",
        HUB,
        "library/debian",
        "latest",
        None,
        True,
        HUB + "/library",
        "debian:latest",
    ),
    (
        "index.docker.io/library/alpine",
        HUB,
        "library/alpine",
        "latest",
        None,
        True,
        HUB + "/library",
        "alpine:latest",
    ),
    (
        "index.docker.io/docker/docker",
        HUB,
        "docker/docker",
        "latest",
        None,
        False,
        "docker.io/docker",
        "docker/docker:latest",
    ),
    # customhouse: the hosts that serve Docker Hub fold into docker.io as well
    (
        "registry-1.docker.io/library/alpine:3.19",
        HUB,
        "library/alpine",
        "3.19",
        None,
        True,
        HUB + "/library",
        "alpine:3.19",
    ),
    (
        "registry-1.docker.io/nginx",
        HUB,
        "library/nginx",
        "latest",
        None,
        True,
        HUB + "/library",
        "nginx:latest",
    ),
    (
        "registry.hub.docker.com/library/alpine",
        HUB,
        "library/alpine",
        "latest",
        None,
        True,
        HUB + "/library",
        "alpine:latest",
    ),
    # Docker Hub, user namespaces
    (
        "johndoe/mysql",
        HUB,
        "johndoe/mysql",
        "latest",
        None,
        False,
        "docker.io/johndoe",
        "johndoe/mysql:latest",
    ),
    (
        "docker.io/johndoe/mysql:8",
        HUB,
        "johndoe/mysql",
        "8",
        None,
        False,
        "docker.io/johndoe",
        "johndoe/mysql:8",
    ),
    (
        "other/library",
        HUB,
        "other/library",
        "latest",
        None,
        False,
        "docker.io/other",
        "other/library:latest",
    ),
    (
        "docker.io/library/foo/bar",
        HUB,
        "library/foo/bar",
        "latest",
        None,
        False,
        "docker.io/library/foo",
        "library/foo/bar:latest",
    ),
    (
        "store/foo/bar",
        HUB,
        "store/foo/bar",
        "latest",
        None,
        False,
        "docker.io/store/foo",
        "store/foo/bar:latest",
    ),
    (
        "test_com/foo",
        HUB,
        "test_com/foo",
        "latest",
        None,
        False,
        "docker.io/test_com",
        "test_com/foo:latest",
    ),
    (
        "docker---rules/docker",
        HUB,
        "docker---rules/docker",
        "latest",
        None,
        False,
        "docker.io/docker---rules",
        "docker---rules/docker:latest",
    ),
    (
        "dock__er/docker",
        HUB,
        "dock__er/docker",
        "latest",
        None,
        False,
        "docker.io/dock__er",
        "dock__er/docker:latest",
    ),
    ("jess/t", HUB, "jess/t", "latest", None, False, "docker.io/jess", "jess/t:latest"),
    (
        "ubuntu-12.04-base",
        HUB,
        "library/ubuntu-12.04-base",
        "latest",
        None,
        True,
        HUB + "/library",
        "ubuntu-12.04-base:latest",
    ),
    (
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        HUB,
        "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "latest",
        None,
        True,
        HUB + "/library",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
    ),
    # a 64-hex name is fine once a registry removes the ambiguity with an image ID
    (
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        HUB,
        "library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "latest",
        None,
        True,
        HUB + "/library",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest",
    ),
    # tags: case-sensitive, up to 128 characters, may start with '_'
    (
        "lowercase:Uppercase",
        HUB,
        "library/lowercase",
        "Uppercase",
        None,
        True,
        HUB + "/library",
        "lowercase:Uppercase",
    ),
    (
        "nginx:_private",
        HUB,
        "library/nginx",
        "_private",
        None,
        True,
        HUB + "/library",
        "nginx:_private",
    ),
    (
        "nginx:" + "t" * 128,
        HUB,
        "library/nginx",
        "t" * 128,
        None,
        True,
        HUB + "/library",
        "nginx:" + "t" * 128,
    ),
    # without '/', "host-looking" names are Hub repositories and ':N' is a tag
    ("test.com:tag", HUB, "library/test.com", "tag", None, True, HUB + "/library", "test.com:tag"),
    (
        "test.com:5000",
        HUB,
        "library/test.com",
        "5000",
        None,
        True,
        HUB + "/library",
        "test.com:5000",
    ),
    (
        "192.168.0.1",
        HUB,
        "library/192.168.0.1",
        "latest",
        None,
        True,
        HUB + "/library",
        "192.168.0.1:latest",
    ),
    (
        "192.168.1.1:5000",
        HUB,
        "library/192.168.1.1",
        "5000",
        None,
        True,
        HUB + "/library",
        "192.168.1.1:5000",
    ),
    (
        "foo_bar.com:8080",
        HUB,
        "library/foo_bar.com",
        "8080",
        None,
        True,
        HUB + "/library",
        "foo_bar.com:8080",
    ),
    (
        "foo/foo_bar.com:8080",
        HUB,
        "foo/foo_bar.com",
        "8080",
        None,
        False,
        "docker.io/foo",
        "foo/foo_bar.com:8080",
    ),
    (
        "localhost",
        HUB,
        "library/localhost",
        "latest",
        None,
        True,
        HUB + "/library",
        "localhost:latest",
    ),
    # the 255-character path limit counts the path only, not the tag
    (
        "a/" * 127 + "a:tag-puts-this-over-max",
        HUB,
        "a/" * 127 + "a",
        "tag-puts-this-over-max",
        None,
        False,
        HUB + "/" + "a/" * 126 + "a",
        "a/" * 127 + "a:tag-puts-this-over-max",
    ),
    # other registries: host names
    (
        "quay.io/coreos/etcd:v3.5.0",
        "quay.io",
        "coreos/etcd",
        "v3.5.0",
        None,
        False,
        "quay.io/coreos",
        "quay.io/coreos/etcd:v3.5.0",
    ),
    (
        "ghcr.io/owner/repo/sub:tag_1",
        "ghcr.io",
        "owner/repo/sub",
        "tag_1",
        None,
        False,
        "ghcr.io/owner/repo",
        "ghcr.io/owner/repo/sub:tag_1",
    ),
    (
        "public.ecr.aws/docker/library/alpine:3.19",
        "public.ecr.aws",
        "docker/library/alpine",
        "3.19",
        None,
        False,
        "public.ecr.aws/docker/library",
        "public.ecr.aws/docker/library/alpine:3.19",
    ),
    (
        "example.com/privatebase",
        "example.com",
        "privatebase",
        "latest",
        None,
        False,
        "example.com",
        "example.com/privatebase:latest",
    ),
    (
        "example.com:8000/private/moonbase",
        "example.com:8000",
        "private/moonbase",
        "latest",
        None,
        False,
        "example.com:8000/private",
        "example.com:8000/private/moonbase:latest",
    ),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com",
        "bar/baz/quux",
        "some-long-tag",
        None,
        False,
        "sub-dom1.foo.com/bar/baz",
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
        None,
        False,
        "b.gcr.io/test.example.com",
        "b.gcr.io/test.example.com/my-app:test.example.com",
    ),
    (
        "xn--n3h.com/myimage:xn--n3h.com",
        "xn--n3h.com",
        "myimage",
        "xn--n3h.com",
        None,
        False,
        "xn--n3h.com",
        "xn--n3h.com/myimage:xn--n3h.com",
    ),
    (
        f"xn--7o8h.com/myimage:xn--7o8h.com@{F512}",
        "xn--7o8h.com",
        "myimage",
        "xn--7o8h.com",
        F512,
        False,
        "xn--7o8h.com",
        f"xn--7o8h.com/myimage:xn--7o8h.com@{F512}",
    ),
    (
        "test-com:8080/foo",
        "test-com:8080",
        "foo",
        "latest",
        None,
        False,
        "test-com:8080",
        "test-com:8080/foo:latest",
    ),
    (
        f"test:5000/repo:tag@{F}",
        "test:5000",
        "repo",
        "tag",
        F,
        False,
        "test:5000",
        f"test:5000/repo:tag@{F}",
    ),
    # an upper-case first element is a registry host (Docker: uppercase namespaces don't exist)
    ("Docker/docker", "Docker", "docker", "latest", None, False, "Docker", "Docker/docker:latest"),
    ("DOCKER/docker", "DOCKER", "docker", "latest", None, False, "DOCKER", "DOCKER/docker:latest"),
    # other registries: IP addresses and localhost
    (
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000",
        "docker/docker",
        "latest",
        None,
        False,
        "127.0.0.1:5000/docker",
        "127.0.0.1:5000/docker/docker:latest",
    ),
    (
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000",
        "library/debian",
        "latest",
        None,
        False,
        "127.0.0.1:5000/library",
        "127.0.0.1:5000/library/debian:latest",
    ),
    (
        "127.0.0.1:5000/debian",
        "127.0.0.1:5000",
        "debian",
        "latest",
        None,
        False,
        "127.0.0.1:5000",
        "127.0.0.1:5000/debian:latest",
    ),
    (
        "192.168.1.1:5000/repo:5050",
        "192.168.1.1:5000",
        "repo",
        "5050",
        None,
        False,
        "192.168.1.1:5000",
        "192.168.1.1:5000/repo:5050",
    ),
    (
        "[fc00::1]:5000/docker/docker",
        "[fc00::1]:5000",
        "docker/docker",
        "latest",
        None,
        False,
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker:latest",
    ),
    (
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "[fc00:1:2:3:4:5:6:7]:5000",
        "library/debian",
        "latest",
        None,
        False,
        "[fc00:1:2:3:4:5:6:7]:5000/library",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest",
    ),
    (
        "[2001:db8::1]/repo:tag",
        "[2001:db8::1]",
        "repo",
        "tag",
        None,
        False,
        "[2001:db8::1]",
        "[2001:db8::1]/repo:tag",
    ),
    (
        f"[::1]:5000/repo@{F}",
        "[::1]:5000",
        "repo",
        None,
        F,
        False,
        "[::1]:5000",
        f"[::1]:5000/repo@{F}",
    ),
    (
        f"localhost:5000/a/b@{D}",
        "localhost:5000",
        "a/b",
        None,
        D,
        False,
        "localhost:5000/a",
        f"localhost:5000/a/b@{D}",
    ),
    (
        "localhost:5000/a",
        "localhost:5000",
        "a",
        "latest",
        None,
        False,
        "localhost:5000",
        "localhost:5000/a:latest",
    ),
    ("localhost/x", "localhost", "x", "latest", None, False, "localhost", "localhost/x:latest"),
]

# input -> substring of the error message
INVALID: list[tuple[str, str]] = [
    ("", "reference is empty"),
    (" nginx", "whitespace"),
    ("nginx ", "whitespace"),
    ("ngi nx", "whitespace"),
    ("nginx:1.0\n", "whitespace"),
    ("nginx\t", "whitespace"),
    # upper case in the repository path
    ("docker/Docker", "must be lowercase"),
    ("docker.io/docker/Docker", "must be lowercase"),
    ("Uppercase:tag", "must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "must be lowercase"),
    # empty components: double slashes, trailing or leading separators
    ("docker///docker", "empty path component"),
    ("docker.io/docker///docker", "empty path component"),
    ("docker/", "empty path component"),
    ("quay.io/coreos/", "empty path component"),
    ("/nginx", "empty path component"),
    # malformed components
    ("-docker", "invalid path component '-docker'"),
    ("-docker/docker", "invalid path component '-docker'"),
    ("docker-/docker", "invalid path component 'docker-'"),
    ("-docker-/docker", "invalid path component"),
    ("____/____", "invalid path component"),
    ("_docker/_docker", "invalid path component"),
    ("dock___er/", "empty path component"),
    # a first element with '.' is a host, so these fail as hosts
    ("dock_.er/docker", "invalid registry host 'dock_.er'"),
    ("dock-.er/docker", "invalid registry host 'dock-.er'"),
    ("dock___er/docker", "invalid path component"),
    ("nginx.", "invalid path component"),
    ("aa/asdf$$^/aa", "invalid path component"),
    ("nginé", "invalid path component"),
    ("nginx:1.0:2", "invalid path component"),
    ("[fc00::1]", "invalid path component"),
    ("[fc00::1]:5000", "invalid path component"),
    ("[2001:db8::1]:tag", "invalid path component"),
    # malformed registry hosts
    ("-docker.io/docker/docker", "invalid registry host '-docker.io'"),
    ("dock..er/docker", "invalid registry host"),
    ("https://github.com/docker/docker", "invalid registry host 'https:'"),
    ("fc00::1:5000/debian", "invalid registry host"),
    ("[fe80::1%eth0]:5000/debian", "invalid registry host"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid registry host"),
    ("localhost:port/x", "invalid registry host"),
    ("example.com:/x", "invalid registry host"),
    ("exa_mple.com/x", "invalid registry host"),
    # a bare image ID is not a name
    ("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "image ID"),
    # missing name, tag or digest
    (":justtag", "repository name is empty"),
    (f"@{F}", "repository name is empty"),
    ("nginx:", "tag after ':' is empty"),
    ("nginx@", "digest after '@' is empty"),
    (f"nginx@{F}@{F}", "more than one '@'"),
    # tags
    ("nginx:" + "t" * 129, "tag is 129 characters long, the limit is 128"),
    ("nginx:-latest", "invalid tag '-latest'"),
    ("nginx:.hidden", "invalid tag '.hidden'"),
    ("nginx:tagé", "invalid tag"),
    ("nginx:a+b", "invalid tag"),
    # digests (checked by Digest.parse)
    ("repo@sha256:" + "f" * 34, "sha256 needs 64 lowercase hex digits"),
    ("nginx@sha256:" + "F" * 64, "sha256 needs 64 lowercase hex digits"),
    ("validname@invaliddigest:" + "f" * 64, "unsupported digest algorithm 'invaliddigest'"),
    ("nginx@md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm 'md5'"),
    ("nginx@" + "f" * 64, "malformed digest"),
    # length limits: the path (after normalization) is at most 255 characters
    ("a/" * 128 + "a:tag", "repository name is 257 characters long, the limit is 255"),
    ("example.com/" + "a" * 256, "repository name is 256 characters long"),
    ("a" * 250, "repository name is 258 characters long"),  # library/ + 250
    ("x" * 1025, "limit is 1024"),
]


def _unpack(row: tuple[str, str, str, str | None, str | None, bool, str, str]) -> str:
    return row[0] if len(row[0]) <= 60 else row[0][:57] + "..."


@pytest.mark.parametrize("row", VALID, ids=[_unpack(r) for r in VALID])
def test_valid_reference_parses_and_normalizes(
    row: tuple[str, str, str, str | None, str | None, bool, str, str],
) -> None:
    text, registry, repository, tag, digest, official, publisher, familiar = row
    ref = ImageReference.parse(text)
    assert ref.registry == registry
    assert ref.repository == repository
    assert ref.tag == tag
    assert ref.digest == (Digest.parse(digest) if digest else None)
    assert ref.official is official
    assert ref.publisher == publisher
    assert ref.familiar == familiar


@pytest.mark.parametrize("row", VALID, ids=[_unpack(r) for r in VALID])
def test_name_and_familiar_forms_reparse_to_the_same_reference(
    row: tuple[str, str, str, str | None, str | None, bool, str, str],
) -> None:
    ref = ImageReference.parse(row[0])
    tag = f":{ref.tag}" if ref.tag else ""
    at = f"@{ref.digest}" if ref.digest else ""
    assert ref.name == f"{ref.registry}/{ref.repository}{tag}{at}"
    assert str(ref) == ref.name
    assert ImageReference.parse(ref.name) == ref
    assert ImageReference.parse(ref.familiar) == ref


def test_table_sizes_meet_the_brief() -> None:
    assert len(VALID) >= 40
    assert len(INVALID) >= 20
    assert len({row[0] for row in VALID}) == len(VALID)
    assert len({row[0] for row in INVALID}) == len(INVALID)


@pytest.mark.parametrize(("text", "fragment"), INVALID, ids=[t[:50] for t, _ in INVALID])
def test_invalid_reference_is_rejected_with_a_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(ReferenceError_) as info:
        ImageReference.parse(text)
    message = str(info.value)
    assert fragment in message
    shown = text if len(text) <= 120 else text[:117] + "..."
    assert message.startswith(f"invalid image reference {shown!r}: ")
    assert isinstance(info.value, InputError)
    assert info.value.exit_code == 2


def test_bad_digest_error_chains_the_digest_error() -> None:
    with pytest.raises(ReferenceError_) as info:
        ImageReference.parse("nginx@sha256:abc")
    assert info.value.__cause__ is not None
    assert "'nginx@sha256:abc'" in str(info.value)


@pytest.mark.parametrize("value", [None, 42, b"nginx", ["nginx"]])
def test_non_string_input_is_a_reference_error(value: object) -> None:
    with pytest.raises(ReferenceError_, match="expected a string"):
        ImageReference.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "loopback"),
    [
        ("localhost/x", True),
        ("localhost:5000/a/b", True),
        ("LOCALHOST:5000/x", True),
        ("127.0.0.1/x", True),
        ("127.0.0.1:5000/x", True),
        ("127.3.2.1:443/x", True),
        ("[::1]/x", True),
        ("[::1]:5000/x", True),
        ("[0:0:0:0:0:0:0:1]:5000/x", True),
        ("nginx", False),
        ("localhost", False),  # Docker Hub's library/localhost, not a host
        ("localhost.example.com/x", False),
        ("128.0.0.1:5000/x", False),
        ("10.0.0.1:5000/x", False),
        ("[::2]:5000/x", False),
        ("[fc00::1]:5000/x", False),
        ("quay.io/coreos/etcd", False),
        ("127.0.0.1.nip.io/x", False),
    ],
)
def test_is_loopback(text: str, loopback: bool) -> None:
    assert ImageReference.parse(text).is_loopback is loopback


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("nginx", "registry-1.docker.io"),
        ("index.docker.io/library/alpine", "registry-1.docker.io"),
        ("johndoe/mysql", "registry-1.docker.io"),
        ("quay.io/coreos/etcd", "quay.io"),
        ("localhost:5000/a", "localhost:5000"),
        ("[::1]:5000/a", "[::1]:5000"),
    ],
)
def test_registry_host_is_the_api_host(text: str, host: str) -> None:
    assert ImageReference.parse(text).registry_host == host


@pytest.mark.parametrize(
    ("text", "namespace"),
    [
        ("nginx", "library"),
        ("johndoe/mysql", "johndoe"),
        ("ghcr.io/a/b/c", "a/b"),
        ("localhost:5000/a", None),
    ],
)
def test_namespace_is_every_component_but_the_last(text: str, namespace: str | None) -> None:
    assert ImageReference.parse(text).namespace == namespace


@pytest.mark.parametrize(
    ("text", "locator"),
    [
        ("nginx", "latest"),
        ("nginx:1.25", "1.25"),
        (f"nginx@{D}", D),
        (f"nginx:1.25@{D}", D),  # the digest wins: a tag can move, a digest cannot
    ],
)
def test_locator_prefers_the_digest(text: str, locator: str) -> None:
    assert ImageReference.parse(text).locator == locator


def test_with_digest_pins_without_losing_the_tag() -> None:
    ref = ImageReference.parse("quay.io/coreos/etcd:v3.5.0")
    pinned = ref.with_digest(Digest.parse(D))
    assert pinned.digest == Digest.parse(D)
    assert pinned.tag == "v3.5.0"
    assert pinned.locator == D
    assert pinned.name == f"quay.io/coreos/etcd:v3.5.0@{D}"
    assert ImageReference.parse(pinned.name) == pinned
    assert ref.digest is None  # the original is untouched
    assert ref.with_digest(Digest.parse(F)).with_digest(Digest.parse(D)) == pinned


def test_with_digest_rejects_a_plain_string() -> None:
    ref = ImageReference.parse("nginx")
    with pytest.raises(TypeError):
        ref.with_digest(D)  # type: ignore[arg-type]


def test_reference_is_immutable_and_hashable() -> None:
    ref = ImageReference.parse("nginx")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.tag = "evil"  # type: ignore[misc]
    spellings = [
        "nginx",
        "nginx:latest",
        "library/nginx",
        "docker.io/nginx",
        "docker.io/library/nginx:latest",
        "index.docker.io/library/nginx",
    ]
    assert len({ImageReference.parse(s) for s in spellings}) == 1


def test_lookalike_of_an_official_image_is_not_official() -> None:
    # a different registry (or a nested path) mirroring "library/" does not make it official
    assert not ImageReference.parse("evil.example.com/library/nginx").official
    assert not ImageReference.parse("docker.io/library/nginx/extra").official
    assert not ImageReference.parse("librar/nginx").official
    assert not ImageReference.parse("Docker.io/library/nginx").official  # not folded by Docker


# --- real data ---------------------------------------------------------------


def test_every_base_image_in_real_dockerfiles_parses(shared_dir: Path) -> None:
    import dockerfile  # BuildKit's own parser (chosen dependency)

    files = sorted((shared_dir / "dockerfiles").rglob("*Dockerfile*"))
    files += sorted((shared_dir / "fixtures" / "alpine").glob("Dockerfile*"))
    assert files, "no Dockerfiles found in the real-data directory"
    seen = 0
    for path in files:
        stages: set[str] = set()
        for command in dockerfile.parse_file(str(path)):
            if command.cmd.upper() != "FROM":
                continue
            image = command.value[0]
            if len(command.value) == 3 and command.value[1].upper() == "AS":
                stages.add(command.value[2].lower())
            if image == "scratch" or "$" in image or image.lower() in stages:
                continue
            ref = ImageReference.parse(image)
            seen += 1
            assert ImageReference.parse(ref.familiar) == ref
            assert ref.familiar == (image if ":" in image or "@" in image else image + ":latest")
            if "/" not in image:
                assert ref.official, image
            if image.startswith("mcr.microsoft.com/windows/"):
                assert ref.publisher == "mcr.microsoft.com/windows"
    assert seen > 100


# --- properties --------------------------------------------------------------

_ALNUM = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_SEPARATOR = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def _components(draw: st.DrawFn, *, dots: bool = True) -> str:
    parts = [draw(_ALNUM)]
    for _ in range(draw(st.integers(0, 2))):
        separator = draw(_SEPARATOR)
        if separator == "." and not dots:
            separator = "-"
        parts += [separator, draw(_ALNUM)]
    return "".join(parts)


_REGISTRIES = st.one_of(
    st.sampled_from(
        [
            None,
            "docker.io",
            "index.docker.io",
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "[fc00:1:2:3:4:5:6:7]",
            "quay.io",
            "Registry.Example.COM:443",
            "Foo",
        ]
    ),
    st.from_regex(
        r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z0-9]{1,5}){1,2}(:[0-9]{1,5})?", fullmatch=True
    ),
)
_TAGS = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", fullmatch=True))
_DIGESTS = st.one_of(
    st.none(),
    st.binary(max_size=32).map(Digest.of),
    st.binary(max_size=32).map(lambda b: Digest.of(b, "sha512")),
)


@st.composite
def _references(draw: st.DrawFn) -> tuple[str, str | None, str, str | None, Digest | None]:
    registry = draw(_REGISTRIES)
    # without a registry, a first component with '.' would read as a host (Docker's rule)
    first = draw(_components(dots=registry is not None))
    rest = draw(st.lists(_components(), max_size=3))
    path = "/".join([first, *rest])
    tag = draw(_TAGS)
    digest = draw(_DIGESTS)
    text = (f"{registry}/" if registry else "") + path
    text += (f":{tag}" if tag is not None else "") + (f"@{digest}" if digest else "")
    return text, registry, path, tag, digest


@given(_references())
def test_generated_references_round_trip(
    case: tuple[str, str | None, str, str | None, Digest | None],
) -> None:
    text, registry, path, tag, digest = case
    ref = ImageReference.parse(text)
    assert ImageReference.parse(str(ref)) == ref
    assert ImageReference.parse(ref.familiar) == ref
    assert ref.digest == digest
    assert ref.tag == (tag if tag is not None or digest is not None else "latest")
    hub = registry in (None, "docker.io", "index.docker.io")
    assert ref.registry == ("docker.io" if hub else registry)
    expected_path = f"library/{path}" if hub and "/" not in path else path
    assert ref.repository == expected_path
    parts = expected_path.split("/")
    assert ref.official is (hub and len(parts) == 2 and parts[0] == "library")


@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_reference_error(text: str) -> None:
    try:
        ref = ImageReference.parse(text)
    except ReferenceError_ as e:
        assert str(e).startswith(f"invalid image reference {text!r}: ")
    else:
        assert ImageReference.parse(str(ref)) == ref
