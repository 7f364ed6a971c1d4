#!/usr/bin/env python3
"""Build the demo image as a real OCI image layout, from files in demo/rootfs.

Two layers, like a two-step Dockerfile:
  1. ``COPY rootfs/ /``: the files under demo/rootfs
  2. ``RUN rm /app/config.ini && ln -s hello.sh /app/hello``: a whiteout and a symlink

Stdlib only, deterministic (fixed mtimes and owners), so the digests are stable.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
from pathlib import Path

EPOCH = 1_700_000_000
HERE = Path(__file__).resolve().parent


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.size, ti.linkname = kind, mode, size, link
    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = EPOCH, 0, 0, "root", "root"
    return ti


def layer_from_dir(root: Path) -> bytes:
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            members.append((_info(rel, tarfile.DIRTYPE, 0o755), None))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            data = path.read_bytes()
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            arc = name if rel == "." else f"{rel}/{name}"
            members.append((_info(arc, tarfile.REGTYPE, mode, len(data)), data))
    return _tar(members)


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build(layout: Path, tag: str = "demo") -> None:
    layers = [
        (layer_from_dir(HERE / "rootfs"), "COPY rootfs/ / # buildkit"),
        (
            _tar(
                [
                    (_info("app", tarfile.DIRTYPE, 0o755), None),
                    (_info("app/.wh.config.ini", tarfile.REGTYPE, 0o644), b""),
                    (_info("app/hello", tarfile.SYMTYPE, 0o777, link="hello.sh"), None),
                ]
            ),
            "RUN /bin/sh -c rm /app/config.ini && ln -s hello.sh /app/hello # buildkit",
        ),
    ]
    tmp = layout.with_name(layout.name + ".part")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    descs, diff_ids, history = [], [], []
    for raw, created_by in layers:
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        gz = gzip.compress(raw, compresslevel=6, mtime=0)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(tmp, gz)})
        history.append({"created": "2023-11-14T22:13:20Z", "created_by": created_by})
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {
            "User": "app",
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/app/hello"],
            "WorkingDir": "/app",
            "Labels": {"org.opencontainers.image.title": "customhouse demo"},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    cfg = {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        **_blob(tmp, json.dumps(config, sort_keys=True).encode()),
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cfg,
        "layers": descs,
    }
    mdesc = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **_blob(tmp, json.dumps(manifest, sort_keys=True).encode()),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    (tmp / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (tmp / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [mdesc],
            }
        )
    )
    if layout.exists():
        import shutil

        shutil.rmtree(layout)
    tmp.rename(layout)
    print(f"built oci:{layout}:{tag} ({mdesc['digest']})", file=sys.stderr)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("build/demo/layout"))
