"""Client side of the OCI distribution API: pull manifests and blobs from a registry.

Public surface: :class:`RegistryClient` (one registry host), :class:`RetryPolicy` and
:class:`Timeouts` (its knobs), :class:`Credentials` and :func:`load_docker_config`
(credentials from Docker's ``config.json`` and credential helpers),
:func:`parse_www_authenticate` and :func:`parse_retry_after` (header grammars), and
:class:`ImageNotFoundError` (a 404 for a manifest: exit 2, the input names nothing).
"""

from __future__ import annotations

from customhouse.distribution._challenge import Challenge, parse_www_authenticate
from customhouse.distribution._client import (
    FetchedManifest,
    ImageNotFoundError,
    RegistryClient,
    is_loopback_host,
)
from customhouse.distribution._credentials import (
    Credentials,
    DockerConfig,
    DockerConfigError,
    load_docker_config,
)
from customhouse.distribution._retry import RetryPolicy, Timeouts, parse_retry_after

__all__ = [
    "Challenge",
    "Credentials",
    "DockerConfig",
    "DockerConfigError",
    "FetchedManifest",
    "ImageNotFoundError",
    "RegistryClient",
    "RetryPolicy",
    "Timeouts",
    "is_loopback_host",
    "load_docker_config",
    "parse_retry_after",
    "parse_www_authenticate",
]
