"""``customhouse export``: the flattened filesystem of an image, as one tar."""

from __future__ import annotations

import sys
from argparse import Namespace
from typing import TYPE_CHECKING

from customhouse.cli._common import (
    add_image_options,
    atomic_output,
    layer_progress,
    parse_platform,
)

if TYPE_CHECKING:
    from customhouse.cli._args import CommandParser


DESCRIPTION = """\
Write the final filesystem of IMAGE (all layers applied) as a tar.

Every blob is verified against its digest and every layer against its diffID
while streaming; on any error nothing is left at FILE.
"""


def build(parser: CommandParser) -> None:
    parser.description = DESCRIPTION
    parser.argument("image")
    add_image_options(parser)
    parser.option(
        "-o", "--output", required=True, metavar="FILE", help="Tar file to write ('-' for stdout)."
    )
    parser.flag("--force", help="Overwrite FILE if it exists.")


def run(args: Namespace) -> int:
    image: str = args.image
    platform: str | None = args.platform
    insecure_registries: tuple[str, ...] = args.insecure_registries
    output: str = args.output
    force: bool = args.force
    from customhouse.export import export_image
    from customhouse.limits import Limits
    from customhouse.sources import open_image

    limits = Limits.from_env()
    with (
        open_image(
            image,
            platform=parse_platform(platform),
            limits=limits,
            insecure_registries=insecure_registries,
        ) as img,
        atomic_output(output, force=force) as out,
        layer_progress(img, "exporting") as progress,
    ):
        stats = export_image(img, out, limits=limits, progress=progress)
    sys.stderr.write(
        f"exported {stats.entries} entries ({stats.files} files, {stats.bytes:,} bytes)"
        + (f"; {stats.hidden} entries removed by later layers left out" if stats.hidden else "")
        + "\n"
    )
    return 0
