"""``customhouse export``: the flattened filesystem of an image, as one tar."""

from __future__ import annotations

import click

from customhouse.cli._common import atomic_output, image_options, layer_progress, parse_platform


@click.command("export")
@click.argument("image")
@image_options
@click.option(
    "-o", "--output", required=True, metavar="FILE", help="Tar file to write ('-' for stdout)."
)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def export_cmd(
    image: str, platform: str | None, insecure_registries: tuple[str, ...], output: str, force: bool
) -> None:
    """Write the final filesystem of IMAGE (all layers applied) as a tar.

    Every blob is verified against its digest and every layer against its diffID
    while streaming; on any error nothing is left at FILE.
    """
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
    click.echo(
        f"exported {stats.entries} entries ({stats.files} files, {stats.bytes:,} bytes)"
        + (f"; {stats.hidden} entries removed by later layers left out" if stats.hidden else ""),
        err=True,
    )
