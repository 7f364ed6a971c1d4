"""Image references (``[registry/]repository[:tag][@digest]``), parsed once.

The grammar and the normalization follow Docker's ``distribution/reference``
package (``regexp.go``, ``normalize.go``) so that a string means here what it means
to ``docker pull``:

* the first ``/``-separated element is a registry only if it contains ``.`` or
  ``:``, is ``localhost``, or contains upper case; otherwise the reference is on
  Docker Hub (``docker.io``);
* a single-element Hub repository gets the ``library/`` namespace
  (``nginx`` -> ``docker.io/library/nginx``);
* the repository path is lower case, at most 255 characters;
* a tag is ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``;
* a bare 64-hex string is an image ID, not a name, and is refused.

Deviations, on purpose: ``registry-1.docker.io`` and ``registry.hub.docker.com``
(hosts that serve Docker Hub) fold into ``docker.io`` like ``index.docker.io``
does in Docker, so one image has one identity; digests are checked by
:meth:`customhouse.digest.Digest.parse` (only algorithms we can verify); a missing
tag without a digest becomes ``latest`` (Docker's ``TagNameOnly``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from customhouse.digest import Digest
from customhouse.errors import DigestError, ReferenceError_

DOCKER_HUB = "docker.io"
DOCKER_HUB_HOST = "registry-1.docker.io"
DEFAULT_TAG = "latest"
_OFFICIAL_NAMESPACE = "library"
_HUB_ALIASES = frozenset({"index.docker.io", DOCKER_HUB_HOST, "registry.hub.docker.com"})

_MAX_PATH = 255  # distribution/reference RepositoryNameTotalLengthMax (applies to the path)
_MAX_TAG = 128
_MAX_INPUT = 1024  # hardening: far above any valid reference, keeps error paths cheap

# regexp.go, transcribed: path components are lower-case alphanumerics joined by one
# '.', one or two '_', or any run of '-'.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A validated, normalized image reference. Construct it with :meth:`parse`."""

    registry: str
    repository: str
    tag: str | None
    digest: Digest | None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse ``text`` the way ``docker pull`` reads it; raise ``ReferenceError_``."""
        if not isinstance(text, str):
            raise ReferenceError_(
                f"invalid image reference {text!r}: expected a string, got {type(text).__name__}"
            )

        def fail(problem: str) -> ReferenceError_:
            return ReferenceError_(f"invalid image reference {_shown(text)!r}: {problem}")

        if not text:
            raise fail("reference is empty")
        if len(text) > _MAX_INPUT:
            raise fail(f"reference is {len(text)} characters long, the limit is {_MAX_INPUT}")
        if any(ch.isspace() for ch in text):
            raise fail("reference must not contain whitespace")
        if _IMAGE_ID.fullmatch(text):
            raise fail(
                "a 64-character hexadecimal string is an image ID, not a repository name"
                " (cannot specify 64-byte hexadecimal strings)"
            )

        rest, at, digest_text = text.partition("@")
        if at and "@" in digest_text:
            raise fail("more than one '@'")
        if at and not digest_text:
            raise fail("digest after '@' is empty")

        # A ':' after the last '/' can only start the tag; one before it is a port.
        colon = rest.rfind(":")
        tag: str | None = None
        name = rest
        if colon > rest.rfind("/"):
            name, tag = rest[:colon], rest[colon + 1 :]

        if not name:
            raise fail("repository name is empty")
        registry, path = _split_registry(name)
        if not _DOMAIN.fullmatch(registry):
            raise fail(f"invalid registry host {registry!r}")
        if path != path.lower():
            raise fail(f"repository name {path!r} must be lowercase")
        if registry in _HUB_ALIASES:
            registry = DOCKER_HUB
        if registry == DOCKER_HUB and "/" not in path:
            path = f"{_OFFICIAL_NAMESPACE}/{path}"
        _check_path(path, fail)

        if tag is not None:
            if not tag:
                raise fail("tag after ':' is empty")
            if len(tag) > _MAX_TAG:
                raise fail(f"tag is {len(tag)} characters long, the limit is {_MAX_TAG}")
            if not tag.isascii() or not _TAG.fullmatch(tag):
                raise fail(
                    f"invalid tag {tag!r}: a tag starts with a letter, digit or '_' and"
                    " continues with letters, digits, '_', '.' or '-'"
                )

        digest: Digest | None = None
        if at:
            try:
                digest = Digest.parse(digest_text)
            except DigestError as e:
                raise fail(str(e)) from e
        elif tag is None:
            tag = DEFAULT_TAG
        return cls(registry, path, tag, digest)

    # --- derived views --------------------------------------------------------

    @property
    def official(self) -> bool:
        """A Docker Official Image: ``docker.io/library/<name>``."""
        parts = self.repository.split("/")
        return self.registry == DOCKER_HUB and len(parts) == 2 and parts[0] == _OFFICIAL_NAMESPACE

    @property
    def namespace(self) -> str | None:
        """Every path component but the last, or None for a single-component path."""
        head, sep, _ = self.repository.rpartition("/")
        return head if sep else None

    @property
    def publisher(self) -> str:
        """Who publishes the image: the registry plus the namespace, if any."""
        namespace = self.namespace
        return f"{self.registry}/{namespace}" if namespace else self.registry

    @property
    def name(self) -> str:
        """The full normalized reference, e.g. ``docker.io/library/nginx:latest``."""
        return self._render(f"{self.registry}/{self.repository}")

    @property
    def familiar(self) -> str:
        """The short form Docker shows, e.g. ``nginx:latest`` or ``johndoe/mysql:latest``."""
        if self.registry != DOCKER_HUB:
            return self.name
        path = self.repository
        prefix = f"{_OFFICIAL_NAMESPACE}/"
        if path.startswith(prefix) and "/" not in path[len(prefix) :]:
            path = path[len(prefix) :]
        if _split_registry(path)[0] != DOCKER_HUB:
            # "docker.io/0.0/app" must not shorten to "0.0/app", which names registry 0.0
            # (Docker's FamiliarString has this ambiguity; the long form stays unambiguous)
            return self.name
        return self._render(path)

    @property
    def registry_host(self) -> str:
        """The host (and port) to contact for this registry."""
        return DOCKER_HUB_HOST if self.registry == DOCKER_HUB else self.registry

    @property
    def is_loopback(self) -> bool:
        """The registry is on this machine: ``localhost``, ``127.0.0.0/8`` or ``[::1]``."""
        registry = self.registry
        # "[::1]:5000" -> "::1"; "localhost:5000" -> "localhost"
        host = registry[1 : registry.index("]")] if registry[0] == "[" else registry.split(":")[0]
        if host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def locator(self) -> str:
        """What to ask the registry for: the digest when pinned, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        assert self.tag is not None  # parse fills in "latest" when there is no digest
        return self.tag

    def with_digest(self, digest: Digest) -> ImageReference:
        """The same reference pinned to ``digest`` (the tag, if any, is kept)."""
        if not isinstance(digest, Digest):
            raise TypeError(f"expected a Digest, got {type(digest).__name__}")
        return dataclasses.replace(self, digest=digest)

    def _render(self, base: str) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{base}{tag}{digest}"

    def __str__(self) -> str:
        return self.name


def _split_registry(name: str) -> tuple[str, str]:
    """Docker's ``splitDockerDomain``: is the first element a registry host?"""
    first, sep, remainder = name.partition("/")
    if sep and (first == "localhost" or any(c in first for c in ".:") or first != first.lower()):
        return first, remainder
    return DOCKER_HUB, name


def _check_path(path: str, fail: Callable[[str], ReferenceError_]) -> None:
    components = path.split("/")
    if "" in components:
        raise fail(
            f"repository name {path!r} has an empty path component (leading, trailing or"
            " doubled '/')"
        )
    for component in components:
        if not component.isascii() or not _COMPONENT.fullmatch(component):
            raise fail(
                f"invalid path component {component!r}: use lower-case letters and digits,"
                " separated by one '.', one or two '_', or '-'"
            )
    if len(path) > _MAX_PATH:
        raise fail(f"repository name is {len(path)} characters long, the limit is {_MAX_PATH}")


def _shown(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."
