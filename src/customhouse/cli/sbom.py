"""``customhouse sbom``: the package inventory of an image."""

from __future__ import annotations

from argparse import Namespace
from typing import TYPE_CHECKING, Any

from customhouse.cli._common import (
    add_image_options,
    add_output_options,
    atomic_output,
    layer_progress,
    parse_platform,
)

if TYPE_CHECKING:
    from customhouse.cli._args import CommandParser

FORMATS = ("table", "json", "cyclonedx", "spdx")


def inventory_json(inv: Any, image: Any) -> dict[str, Any]:
    return {
        "schema": "customhouse.inventory/v1",
        "source": inv.source,
        "image_digest": inv.image_digest,
        "reference": str(image.reference) if image.reference is not None else None,
        "distro": inv.distro.to_json() if inv.distro else None,
        "layers": inv.layers,
        "packages": [p.to_json() for p in inv.packages],
        "warnings": inv.warnings,
    }


def _table(inv: Any) -> str:
    import io

    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), record=True, soft_wrap=False, width=160)
    if inv.distro:
        d = inv.distro
        console.print(
            f"[bold]distro[/bold] {d.pretty_name or d.id} ({d.id} {d.version_id or ''} {d.codename or ''})".rstrip()
        )
    t = Table(title=f"{len(inv.packages)} packages", title_justify="left")
    for col in ("ecosystem", "name", "version", "source", "layer", "path"):
        t.add_column(col, overflow="fold")
    for p in inv.packages:
        src = p.source_name or ""
        if p.source_version and p.source_version != p.version:
            src += f" {p.source_version}"
        t.add_row(
            p.ecosystem + (" (os)" if p.os_owned else ""),
            p.name,
            p.version,
            src,
            "" if p.layer is None else str(p.layer),
            p.path,
        )
    console.print(t)
    for w in inv.warnings:
        console.print(f"[yellow]warning[/yellow]: {w}")
    return console.export_text()


DESCRIPTION = """\
List every OS and language package in IMAGE, with its layer of origin.

Layer analyses are cached by diffID in the user cache dir
($CUSTOMHOUSE_CACHE_DIR, else $XDG_CACHE_HOME/customhouse).
"""


def build(parser: CommandParser) -> None:
    parser.description = DESCRIPTION
    parser.argument("image")
    add_image_options(parser)
    parser.option("--format", dest="fmt", choices=FORMATS, default="table", show_default=True)
    add_output_options(parser)
    parser.flag("--no-cache", help="Do not read or write the layer analysis cache.")


def run(args: Namespace) -> int:
    image: str = args.image
    platform: str | None = args.platform
    insecure_registries: tuple[str, ...] = args.insecure_registries
    fmt: str = args.fmt
    output: str = args.output
    force: bool = args.force
    no_cache: bool = args.no_cache
    from customhouse.catalog.analyze import inventory
    from customhouse.limits import Limits
    from customhouse.sources import open_image

    limits = Limits.from_env()
    with open_image(
        image,
        platform=parse_platform(platform),
        limits=limits,
        insecure_registries=insecure_registries,
    ) as img:
        with layer_progress(img, "cataloging") as progress:
            inv = inventory(img, limits=limits, use_cache=not no_cache, progress=progress)
        if fmt == "json":
            import orjson

            text = (
                orjson.dumps(inventory_json(inv, img), option=orjson.OPT_INDENT_2).decode() + "\n"
            )
        elif fmt == "table":
            text = _table(inv)
        else:
            from customhouse.report import sbom as sbom_formats

            text = sbom_formats.render(fmt, inv, img)
    with atomic_output(output, force=force, binary=False) as out:
        out.write(text)
    return 0
