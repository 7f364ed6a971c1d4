"""Where the base images come from."""

from __future__ import annotations

from collections.abc import Iterator

from customhouse.dockerfile.rules._base import Context, Hit, Severity, rule
from customhouse.errors import ReferenceError_
from customhouse.reference import DOCKER_HUB, ImageReference


def image_sources(ctx: Context) -> Iterator[tuple[int, str, ImageReference]]:
    """(line, text, reference) for every external image the build pulls."""
    names = {s.name for s in ctx.dockerfile.stages if s.name}
    for stage in ctx.dockerfile.stages:
        if stage.base is not None and stage.parent is None and not stage.is_scratch:
            ref = _parse(stage.base)
            if ref is not None:
                yield stage.from_instruction.start_line, stage.base, ref
        for ins in stage.instructions:
            sources = list(ins.flag_values("from")) if ins.keyword == "COPY" else []
            if ins.keyword == "RUN":
                for mount in ins.flag_values("mount"):
                    for part in mount.split(","):
                        key, _, value = part.partition("=")
                        if key.strip() == "from":
                            sources.append(value.strip())
            for src in sources:
                if src.isdigit() or src.lower() in names or "$" in src:
                    continue
                if not any(c in src for c in "/:@."):
                    continue  # a bare word is a (mistyped) stage name: see CH701
                ref = _parse(src)
                if ref is not None:
                    yield ins.start_line, src, ref


def _parse(text: str) -> ImageReference | None:
    try:
        return ImageReference.parse(text)
    except ReferenceError_:
        return None


def _matches(entry: str, ref: ImageReference) -> bool:
    entry = entry.strip().rstrip("/").lower()
    full = f"{ref.registry}/{ref.repository}"
    return ref.registry == entry or full == entry or full.startswith(entry + "/")


@rule("CH101", "Base image from an untrusted registry", Severity.HIGH, "provenance",
      history=False, hadolint=("DL3026",))  # fmt: skip
def untrusted_registry(ctx: Context) -> Iterator[Hit]:
    trusted = ctx.settings.trusted_registries
    for line, text, ref in image_sources(ctx):
        if not any(_matches(t, ref) for t in trusted):
            yield Hit(
                line,
                f"{text} comes from {ref.registry}, which is not a trusted registry"
                f" (trusted: {', '.join(trusted) or 'none'})",
            )


@rule("CH102", "Base image not pinned by digest", Severity.LOW, "provenance", history=False)
def not_pinned(ctx: Context) -> Iterator[Hit]:
    for line, text, ref in image_sources(ctx):
        if ref.digest is None:
            yield Hit(
                line,
                f"{text} is not pinned by digest; the tag can be moved to other content"
                f" (use {ref.familiar}@sha256:<digest>)",
            )


@rule("CH103", "Base image tag is latest or missing", Severity.MEDIUM, "provenance",
      history=False, hadolint=("DL3006", "DL3007"), trivy=("AVD-DS-0001",))  # fmt: skip
def latest_tag(ctx: Context) -> Iterator[Hit]:
    for line, text, ref in image_sources(ctx):
        if ref.digest is not None or ref.tag != "latest":
            continue
        how = "uses the tag 'latest'" if text.rstrip().endswith(":latest") else "has no tag"
        yield Hit(line, f"{text} {how}: the build takes whatever is newest at the time")


@rule("CH104", "Base image from a user namespace", Severity.MEDIUM, "provenance", history=False)
def user_namespace(ctx: Context) -> Iterator[Hit]:
    allowed = {a.strip().strip("/").lower() for a in ctx.settings.allowed_namespaces}
    for line, text, ref in image_sources(ctx):
        if ref.registry != DOCKER_HUB or ref.official:
            continue
        namespace = ref.namespace or ""
        if namespace in allowed or f"{DOCKER_HUB}/{namespace}" in allowed:
            continue
        yield Hit(
            line,
            f"{text} is published by the Docker Hub user or organization '{namespace}',"
            " not a Docker Official Image; allow the namespace in the config if you trust it",
        )
