"""References between stages, and base images that do not resolve."""

from __future__ import annotations

from collections.abc import Iterator

from customhouse.dockerfile.rules._base import Context, Hit, Severity, rule
from customhouse.errors import ReferenceError_
from customhouse.reference import ImageReference


@rule("CH701", "Reference to an unknown or later stage", Severity.HIGH, "consistency",
      history=False, hadolint=("DL3022", "DL3023"))  # fmt: skip
def unknown_stage(ctx: Context) -> Iterator[Hit]:
    stages = ctx.dockerfile.stages
    for stage in stages:
        for ins in stage.instructions:
            refs = list(ins.flag_values("from")) if ins.keyword == "COPY" else []
            if ins.keyword == "RUN":
                for mount in ins.flag_values("mount"):
                    for part in mount.split(","):
                        key, _, value = part.partition("=")
                        if key.strip() == "from":
                            refs.append(value.strip())
            for ref in refs:
                if "$" in ref:
                    continue
                if ref.isdigit():
                    index = int(ref)
                    if index >= stage.index:
                        yield Hit(
                            ins.start_line,
                            f"--from={ref} names stage {index}, which is this stage or a later"
                            " one (only earlier stages can be copied from)",
                        )
                    continue
                target = ctx.dockerfile.stage_named(ref)
                if target is not None:
                    if target.index >= stage.index:
                        yield Hit(
                            ins.start_line,
                            f"--from={ref} names a stage that is not built before this one",
                        )
                    continue
                if not any(c in ref for c in "/:@."):
                    yield Hit(
                        ins.start_line,
                        f"--from={ref} is not a stage of this Dockerfile; Docker will pull"
                        f" the image docker.io/library/{ref.lower()} instead",
                    )


@rule("CH702", "Duplicate stage name", Severity.HIGH, "consistency", history=False,
      hadolint=("DL3024",), trivy=("AVD-DS-0012",))  # fmt: skip
def duplicate_stage(ctx: Context) -> Iterator[Hit]:
    seen: dict[str, int] = {}
    for stage in ctx.dockerfile.stages:
        if stage.name is None:
            continue
        if stage.name in seen:
            yield Hit(
                stage.from_instruction.start_line,
                f"stage name '{stage.name}' is already used on line {seen[stage.name]}",
            )
        else:
            seen[stage.name] = stage.from_instruction.start_line


@rule("CH703", "Invalid base image reference", Severity.HIGH, "consistency", history=False)
def invalid_base(ctx: Context) -> Iterator[Hit]:
    for stage in ctx.dockerfile.stages:
        if stage.base is None or stage.parent is not None or stage.is_scratch:
            continue
        try:
            ImageReference.parse(stage.base)
        except ReferenceError_ as e:
            yield Hit(stage.from_instruction.start_line, str(e))


@rule("CH704", "Base image depends on an ARG without a value", Severity.LOW, "consistency",
      history=False)  # fmt: skip
def unresolved_base(ctx: Context) -> Iterator[Hit]:
    for stage in ctx.dockerfile.stages:
        if stage.base is None:
            yield Hit(
                stage.from_instruction.start_line,
                f"FROM {stage.base_text}: a variable has no default (or is a build-platform"
                " ARG), so the base image is only known at build time; provenance checks"
                " are skipped for it",
            )


@rule("CH705", "Repeated CMD, ENTRYPOINT or HEALTHCHECK", Severity.LOW, "consistency",
      history=False, hadolint=("DL4003", "DL4004"), trivy=("AVD-DS-0016",))  # fmt: skip
def repeated(ctx: Context) -> Iterator[Hit]:
    for stage in ctx.dockerfile.stages:
        seen: dict[str, int] = {}
        for ins in stage.instructions:
            if ins.keyword in {"CMD", "ENTRYPOINT", "HEALTHCHECK"}:
                if ins.keyword in seen:
                    yield Hit(
                        ins.start_line,
                        f"{ins.keyword} repeated in one stage (line {seen[ins.keyword]} is"
                        " overridden; only the last one takes effect)",
                    )
                seen[ins.keyword] = ins.start_line
