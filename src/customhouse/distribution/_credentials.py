"""Registry credentials from Docker's client configuration (``config.json``).

Where the file is: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``.
What is read (the format docker/cli writes):

- ``auths``: ``{"<server>": {"auth": base64("user:password")}}``, or ``username`` and
  ``password`` fields, or ``identitytoken`` (an OAuth2 refresh token). ``<server>``
  is ``host[:port]``, possibly with a scheme and a path; Docker Hub appears as
  ``https://index.docker.io/v1/``.
- ``credHelpers``: ``{"<server>": "NAME"}`` and ``credsStore``: ``"NAME"``. The
  program ``docker-credential-NAME get`` receives the server URL on stdin and
  prints ``{"Username": ..., "Secret": ...}``; a ``Username`` of ``<token>`` means
  the secret is an identity token.

Precedence, as in docker/cli: a ``credHelpers`` entry for the registry, then
``credsStore``, then ``auths``. A helper whose program is not installed is skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from customhouse.errors import AuthError, UsageError

__all__ = [
    "HUB_SERVER_URL",
    "Credentials",
    "DockerConfig",
    "DockerConfigError",
    "load_docker_config",
]

HUB_SERVER_URL = "https://index.docker.io/v1/"
_HUB_NAMES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_CONFIG = 4 * 1024 * 1024
_HELPER_TIMEOUT = 30.0
_TOKEN_USERNAME = "<token>"


class DockerConfigError(UsageError):
    """The Docker client configuration file is unreadable or malformed."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password, or an identity token; secrets never appear in repr."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    source: str = ""  # where they came from, for messages ("auths in PATH", "helper NAME")

    @property
    def has_basic(self) -> bool:
        return self.username is not None and self.password is not None


def canonical_server(key: str) -> str:
    """docker/cli's ``ConvertToHostname`` plus Docker Hub's aliases folded to ``docker.io``."""
    text = key.strip()
    for prefix in ("http://", "https://"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
            break
    host = text.split("/", 1)[0].lower()
    return "docker.io" if host in _HUB_NAMES else host


def server_url(registry: str) -> str:
    """What Docker passes to credential helpers for ``registry``."""
    return HUB_SERVER_URL if canonical_server(registry) == "docker.io" else registry


@dataclass(frozen=True, slots=True)
class DockerConfig:
    path: Path | None
    auths: Mapping[str, Credentials] = field(default_factory=lambda: MappingProxyType({}))
    cred_helpers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    creds_store: str | None = None

    def credentials_for(self, registry: str) -> Credentials | None:
        """Credentials for ``registry`` (``host[:port]`` or ``docker.io``), or None."""
        host = canonical_server(registry)
        helpers = [h for h in (self.cred_helpers.get(host), self.creds_store) if h]
        for name in helpers:
            found = _run_helper(name, server_url(host))
            if found is not None:
                return found
        return self.auths.get(host)


def _config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path.home() / ".docker" / "config.json"


def load_docker_config(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> DockerConfig:
    """Read ``config.json``; a missing file is an empty configuration."""
    env = os.environ if environ is None else environ
    where = path if path is not None else _config_path(env)
    try:
        with open(where, "rb") as f:
            raw = f.read(_MAX_CONFIG + 1)
    except FileNotFoundError:
        return DockerConfig(None)
    except OSError as e:
        raise DockerConfigError(f"cannot read Docker config {where}: {e.strerror}") from None
    if len(raw) > _MAX_CONFIG:
        raise DockerConfigError(f"Docker config {where} is larger than {_MAX_CONFIG} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise DockerConfigError(f"Docker config {where} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise DockerConfigError(f"Docker config {where}: expected a JSON object")
    return _parse(doc, where)


def _parse(doc: dict[str, Any], where: Path) -> DockerConfig:
    def fail(problem: str) -> DockerConfigError:
        return DockerConfigError(f"Docker config {where}: {problem}")

    auths: dict[str, Credentials] = {}
    raw_auths = doc.get("auths")
    if raw_auths is None:
        raw_auths = {}
    if not isinstance(raw_auths, dict):
        raise fail("'auths' must be an object")
    for key, entry in raw_auths.items():
        if not isinstance(entry, dict):
            raise fail(f"auths[{key!r}] must be an object")
        creds = _entry_credentials(
            entry, f"auths in {where}", lambda p, k=key: fail(f"auths[{k!r}]: {p}")
        )
        if creds is not None:
            auths.setdefault(canonical_server(key), creds)
    helpers: dict[str, str] = {}
    raw_helpers = doc.get("credHelpers")
    if raw_helpers is None:
        raw_helpers = {}
    if not isinstance(raw_helpers, dict):
        raise fail("'credHelpers' must be an object")
    for key, name in raw_helpers.items():
        if not isinstance(name, str) or not _HELPER_NAME.match(name):
            raise fail(f"credHelpers[{key!r}] is not a helper name")
        helpers[canonical_server(key)] = name
    store = doc.get("credsStore")
    if store is not None and (not isinstance(store, str) or not _HELPER_NAME.match(store)):
        if store == "":
            store = None
        else:
            raise fail("'credsStore' is not a helper name")
    return DockerConfig(where, MappingProxyType(auths), MappingProxyType(helpers), store or None)


def _entry_credentials(entry: dict[str, Any], source: str, fail: Any) -> Credentials | None:
    for name in ("auth", "username", "password", "identitytoken"):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            raise fail(f"{name!r} must be a string")
    username: str | None = entry.get("username") or None
    password: str | None = entry.get("password") or None
    token: str | None = entry.get("identitytoken") or None
    encoded: str | None = entry.get("auth") or None
    if encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise fail("'auth' is not base64 of 'username:password'") from None
        user, sep, secret = decoded.partition(":")
        if not sep:
            raise fail("'auth' does not decode to 'username:password'")
        username, password = user, secret
    if username is None and password is None and token is None:
        return None  # an empty placeholder, as docker writes next to a credsStore
    return Credentials(username, password, token, source)


def _run_helper(name: str, url: str) -> Credentials | None:
    program = shutil.which(f"docker-credential-{name}")
    if program is None:
        return None
    try:
        proc = subprocess.run(
            [program, "get"],
            input=url.encode(),
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AuthError(
            f"credential helper docker-credential-{name} did not answer in {_HELPER_TIMEOUT:.0f} s"
        ) from None
    except OSError as e:
        raise AuthError(f"cannot run credential helper {program}: {e.strerror}") from None
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        text = (out + proc.stderr.decode("utf-8", "replace")).strip()
        if "credentials not found" in text.lower():
            return None
        first = text.splitlines()[0][:200] if text else f"exit status {proc.returncode}"
        raise AuthError(f"credential helper docker-credential-{name} failed for {url}: {first}")
    try:
        doc = json.loads(out)
    except ValueError:
        raise AuthError(
            f"credential helper docker-credential-{name} printed invalid JSON"
        ) from None
    if not isinstance(doc, dict):
        raise AuthError(f"credential helper docker-credential-{name} printed no JSON object")
    user, secret = doc.get("Username"), doc.get("Secret")
    if not isinstance(user, str) or not isinstance(secret, str):
        raise AuthError(
            f"credential helper docker-credential-{name}: 'Username' and 'Secret' must be strings"
        )
    source = f"credential helper docker-credential-{name}"
    if user == _TOKEN_USERNAME:
        return Credentials(None, None, secret, source)
    return Credentials(user, secret, None, source)
