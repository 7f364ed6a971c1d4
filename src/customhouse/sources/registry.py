"""``docker://REF`` or a plain reference: an image pulled over the distribution API.

The manifest named by the reference's tag or digest is fetched first. When the
reference pins a digest, the body must hash to it; otherwise the registry's
``Docker-Content-Digest`` (when sent) must match the body. An index or manifest
list is resolved by platform (default ``linux/amd64``); each child manifest is
fetched by digest and verified. Layers and the config are streamed from the
registry through :class:`~customhouse.digest.VerifyingReader`, never buffered.

Errors: an unknown repository, tag or digest is
:class:`~customhouse.distribution.ImageNotFoundError` (exit 2); authentication
failures are :class:`~customhouse.errors.AuthError` and other registry failures
:class:`~customhouse.errors.RegistryError` (exit 3); malformed or tampered content
is an :class:`~customhouse.errors.InputError` (exit 2) naming the digest.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from customhouse.digest import VerifyingReader
from customhouse.distribution import (
    Credentials,
    RegistryClient,
    RetryPolicy,
    Timeouts,
    load_docker_config,
)
from customhouse.limits import Limits
from customhouse.oci import media
from customhouse.oci.model import Descriptor, Index, Platform, parse_manifest, select_manifest
from customhouse.reference import ImageReference
from customhouse.sources import _common
from customhouse.sources.interface import Image, build_layers

__all__ = ["RegistryBlobStore", "open_registry"]

_MANIFEST_LIKE = (
    media.MANIFEST_TYPES | media.INDEX_TYPES | media.SCHEMA1_TYPES | {media.OCI_DESCRIPTOR}
)
_KNOWN_CONTENT_TYPES = media.MANIFEST_TYPES | media.INDEX_TYPES | media.SCHEMA1_TYPES


class RegistryBlobStore:
    """Blobs of one repository; manifest descriptors are fetched from ``/manifests/``."""

    def __init__(self, client: RegistryClient, repository: str, limits: Limits) -> None:
        self.client = client
        self.repository = repository
        self.limits = limits

    @contextmanager
    def open_blob(self, descriptor: Descriptor, what: str) -> Iterator[VerifyingReader]:
        if descriptor.media_type in _MANIFEST_LIKE:
            fetched = self.client.get_manifest(
                self.repository,
                str(descriptor.digest),
                accept=media.ACCEPT_MANIFESTS,
                max_bytes=min(descriptor.size, self.limits.max_manifest_bytes),
                what=what,
            )
            yield VerifyingReader(
                io.BytesIO(fetched.raw),
                descriptor.digest,
                what=what,
                expected_size=descriptor.size,
            )
            return
        with self.client.open_blob(
            self.repository, descriptor.digest, descriptor.size, what
        ) as reader:
            yield reader


@contextmanager
def open_registry(
    ref_text: str,
    *,
    source: str,
    platform: Platform | None,
    limits: Limits,
    insecure_registries: Sequence[str] = (),
    credentials: Credentials | None = None,
    docker_config: Path | None = None,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
) -> Iterator[Image]:
    """Resolve ``ref_text`` on its registry; the connection closes on exit.

    ``credentials`` overrides the lookup in Docker's ``config.json``
    (``docker_config``, default ``$DOCKER_CONFIG/config.json`` or
    ``~/.docker/config.json``).
    """
    ref = ImageReference.parse(ref_text)
    what = source
    if credentials is None:
        credentials = load_docker_config(docker_config).credentials_for(ref.registry)
    with RegistryClient(
        ref.registry,
        host=ref.registry_host,
        credentials=credentials,
        insecure_registries=insecure_registries,
        retry=retry,
        timeouts=timeouts,
    ) as client:
        store = RegistryBlobStore(client, ref.repository, limits)
        fetched = client.get_manifest(
            ref.repository,
            ref.locator,
            accept=media.ACCEPT_MANIFESTS,
            max_bytes=limits.max_manifest_bytes,
            what=what,
        )
        content_type = fetched.media_type if fetched.media_type in _KNOWN_CONTENT_TYPES else None
        doc = parse_manifest(
            fetched.raw,
            digest=ref.digest or fetched.header_digest,
            media_type=content_type,
            limits=limits,
            what=what,
        )
        index_digest = None
        if isinstance(doc, Index):
            index_digest = doc.digest
            desc = select_manifest(doc, platform, f"{what} index {doc.digest.short}")
            manifest, _ = _common.resolve_manifest(
                store, desc, platform=platform, limits=limits, what=what
            )
        else:
            manifest = doc
        config = _common.load_config(store, manifest, limits, what)
        yield Image(
            source=source,
            transport="registry",
            reference=ref,
            manifest=manifest,
            config=config,
            layers=build_layers(manifest, config, what),
            blobs=store,
            index_digest=index_digest,
        )
