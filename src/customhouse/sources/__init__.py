"""Image sources. :func:`open_image` turns a source string into an :class:`Image`.

Source strings (skopeo's transport names):

- ``oci:PATH[:REF]``            OCI image layout directory
- ``oci-archive:PATH[:REF]``    OCI image layout in a tar
- ``docker-archive:PATH[:REF|:@N]``  ``docker save`` output (legacy and Docker 25+)
- ``dir:PATH``                  an unpacked root filesystem
- ``docker://REF`` or a plain reference (``alpine:3.19``)  pulled over the distribution API
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from customhouse.errors import SourceError
from customhouse.limits import DEFAULT_LIMITS, Limits
from customhouse.oci.model import Platform
from customhouse.sources.interface import Image, Layer

__all__ = ["Image", "Layer", "SourceSpec", "open_image", "parse_source"]

TRANSPORTS = ("oci", "oci-archive", "docker-archive", "dir", "docker")


class SourceSpec(NamedTuple):
    transport: str
    path: Path | None  # for local transports
    ref: str | None  # tag/name inside a layout or archive, or the image reference for docker
    text: str

    def __str__(self) -> str:
        return self.text


def parse_source(text: str) -> SourceSpec:
    """Split ``TRANSPORT:PATH[:REF]``; anything without a known transport is a reference."""
    if not text or text != text.strip():
        raise SourceError(f"invalid image source {text!r}")
    transport, sep, rest = text.partition(":")
    if sep and transport in TRANSPORTS:
        if transport == "docker":
            ref = rest[2:] if rest.startswith("//") else rest
            if not ref:
                raise SourceError(f"{text!r}: docker:// needs an image reference")
            return SourceSpec("docker", None, ref, text)
        if not rest:
            raise SourceError(f"{text!r}: {transport}: needs a path")
        if transport == "dir":
            return SourceSpec("dir", Path(rest), None, text)
        # PATH may contain ':' and so may REF (docker.io/library/alpine:3.19): the
        # path is the shortest prefix, cut at a ':', that exists; REF is the rest
        if os.path.exists(rest) or ":" not in rest:
            return SourceSpec(transport, Path(rest), None, text)
        cut = rest.find(":")
        while cut >= 0:
            if os.path.exists(rest[:cut]):
                return SourceSpec(transport, Path(rest[:cut]), rest[cut + 1 :] or None, text)
            cut = rest.find(":", cut + 1)
        path, _, ref = rest.partition(":")  # nothing exists: report the first reading
        return SourceSpec(transport, Path(path), ref or None, text)
    return SourceSpec("docker", None, text, text)


@contextmanager
def open_image(
    source: str | SourceSpec,
    *,
    platform: Platform | None = None,
    limits: Limits = DEFAULT_LIMITS,
    insecure_registries: Sequence[str] = (),
) -> Iterator[Image]:
    """Open any source as an :class:`Image`. Resources are released on exit."""
    spec = parse_source(source) if isinstance(source, str) else source
    if spec.transport == "docker":
        from customhouse.sources.registry import open_registry

        with open_registry(
            spec.ref or "",
            source=spec.text,
            platform=platform,
            limits=limits,
            insecure_registries=insecure_registries,
        ) as image:
            yield image
        return
    assert spec.path is not None
    if spec.transport == "dir":
        from customhouse.sources.rootfs import open_rootfs

        yield open_rootfs(spec.path, source=spec.text)
        return
    if spec.transport == "oci":
        from customhouse.sources.layout import open_layout

        yield open_layout(spec.path, spec.ref, source=spec.text, platform=platform, limits=limits)
        return
    from customhouse.sources._tarindex import TarIndex
    from customhouse.sources.archive import open_docker_archive, open_oci_archive

    if not spec.path.is_file():
        raise SourceError(f"{spec.text}: {spec.path} is not a file")
    index = TarIndex(spec.path, spec.text)
    try:
        opener = open_oci_archive if spec.transport == "oci-archive" else open_docker_archive
        yield opener(
            spec.path, spec.ref, source=spec.text, platform=platform, limits=limits, index=index
        )
    finally:
        index.close()
