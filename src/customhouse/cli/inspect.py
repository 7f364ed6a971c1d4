"""``customhouse inspect``: what an image is and where it came from."""

from __future__ import annotations

from argparse import Namespace
from typing import TYPE_CHECKING, Any

from customhouse.cli._common import add_image_options, dump_json, parse_platform

if TYPE_CHECKING:
    from customhouse.cli._args import CommandParser


def reference_info(text: str) -> dict[str, Any]:
    from customhouse.reference import ImageReference

    ref = ImageReference.parse(text)
    return {
        "input": text,
        "name": ref.name,
        "registry": ref.registry,
        "repository": ref.repository,
        "tag": ref.tag,
        "digest": str(ref.digest) if ref.digest else None,
        "official": ref.official,
        "publisher": ref.publisher,
    }


def image_info(image: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"source": image.source, "transport": image.transport}
    if image.reference is not None:
        out["reference"] = reference_info(str(image.reference))
    if image.rootfs is not None:
        out["rootfs"] = str(image.rootfs)
        return out
    m = image.manifest
    cfg = image.config
    out["manifest"] = {
        "digest": str(m.digest),
        "mediaType": m.media_type,
        "size": len(m.raw),
        "synthesized": image.synthesized_manifest,
    }
    if image.index_digest is not None:
        out["index_digest"] = str(image.index_digest)
    out["platform"] = str(image.platform) if image.platform else None
    out["layers"] = [
        {
            "index": layer.index,
            "digest": str(layer.descriptor.digest),
            "diff_id": str(layer.diff_id),
            "size": layer.descriptor.size,
            "mediaType": layer.descriptor.media_type,
            "created_by": layer.history.created_by if layer.history else None,
        }
        for layer in image.layers
    ]
    out["config"] = {
        "digest": str(cfg.digest),
        "user": cfg.user or "",
        "env": list(cfg.env),
        "entrypoint": list(cfg.entrypoint) if cfg.entrypoint is not None else None,
        "cmd": list(cfg.cmd) if cfg.cmd is not None else None,
        "working_dir": cfg.working_dir or "",
        "exposed_ports": list(cfg.exposed_ports),
        "labels": dict(cfg.labels),
        "created": cfg.created,
        "author": cfg.author,
        "history": [
            {
                "created": h.created,
                "created_by": h.created_by,
                "comment": h.comment,
                "empty_layer": h.empty_layer,
            }
            for h in cfg.history
        ],
    }
    return out


def _table(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    ref = info.get("reference")
    head.add_row("source", info.get("source", info.get("input", "")))
    if ref:
        head.add_row("name", ref["name"])
        head.add_row("registry", ref["registry"])
        head.add_row("repository", ref["repository"])
        head.add_row("tag", ref["tag"] or "-")
        head.add_row("digest", ref["digest"] or "-")
        head.add_row("official", "yes (Docker Official Image)" if ref["official"] else "no")
        head.add_row("publisher", ref["publisher"])
    if "manifest" in info:
        m = info["manifest"]
        head.add_row(
            "manifest",
            m["digest"] + ("  (synthesized from docker-archive)" if m["synthesized"] else ""),
        )
        head.add_row("media type", m["mediaType"])
        if "index_digest" in info:
            head.add_row("index", info["index_digest"])
        head.add_row("platform", info.get("platform") or "-")
        cfg = info["config"]
        head.add_row("config", cfg["digest"])
        head.add_row("user", cfg["user"] or "(root, none set)")
        head.add_row("entrypoint", " ".join(cfg["entrypoint"] or []) or "-")
        head.add_row("cmd", " ".join(cfg["cmd"] or []) or "-")
        head.add_row("created", cfg["created"] or "-")
        for e in cfg["env"]:
            head.add_row("env", e)
        for k, v in cfg["labels"].items():
            head.add_row("label", f"{k}={v}")
    if "rootfs" in info:
        head.add_row("rootfs", info["rootfs"])
    console.print(head)
    if info.get("layers"):
        t = Table(title="layers", title_justify="left")
        for col in ("#", "size", "digest", "diff_id", "created by"):
            t.add_column(col, overflow="fold")
        for layer in info["layers"]:
            t.add_row(
                str(layer["index"]),
                f"{layer['size']:,}",
                layer["digest"][:19],
                layer["diff_id"][:19],
                (layer["created_by"] or "")[:80],
            )
        console.print(t)


DESCRIPTION = """\
Show an image's reference, manifest, platform, layers and config.

IMAGE is a reference (alpine:3.19, localhost:5000/a/b@sha256:...) or a source:
oci:PATH[:REF], oci-archive:PATH[:REF], docker-archive:PATH[:REF|@N], dir:PATH.
"""


def build(parser: CommandParser) -> None:
    parser.description = DESCRIPTION
    parser.argument("image")
    add_image_options(parser)
    parser.option(
        "--format", dest="fmt", choices=("table", "json"), default="table", show_default=True
    )
    parser.flag("--offline", help="Only parse the reference; contact nothing.")


def run(args: Namespace) -> int:
    image: str = args.image
    platform: str | None = args.platform
    insecure_registries: tuple[str, ...] = args.insecure_registries
    fmt: str = args.fmt
    offline: bool = args.offline
    if offline:
        from customhouse.sources import parse_source

        spec = parse_source(image)
        if spec.transport != "docker":
            from customhouse.errors import UsageError

            raise UsageError("--offline takes an image reference, not a local source")
        info: dict[str, Any] = {"source": image, "reference": reference_info(spec.ref or "")}
    else:
        from customhouse.sources import open_image

        with open_image(
            image, platform=parse_platform(platform), insecure_registries=insecure_registries
        ) as img:
            info = image_info(img)
    if fmt == "json":
        dump_json(info)
    else:
        _table(info)
    return 0
