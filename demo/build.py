#!/usr/bin/env python3
"""Build the demo image as a real OCI image layout, from files in demo/rootfs.

Four layers, like a four-step Dockerfile:
  1. ``COPY rootfs/ /``: the files under demo/rootfs
  2. ``RUN pip install ...``: real metadata of old, vulnerable Python releases (demo/python)
  3. ``COPY .env /app/.env``: an env file with a database password (made up at build time)
  4. ``RUN rm /app/config.ini /app/.env && ln -s hello.sh /app/hello``: whiteouts and a symlink;
     the .env is deleted, yet layer 3 still ships it
The last RUN also gets a build argument carrying a token, as careless builds do.

Stdlib only. Files, mtimes and owners are fixed; the made-up secrets are random on each
build (so the repository itself carries no secret), hence so are two layer digests.
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


def _python_layer() -> bytes:
    site = "usr/lib/python3.11/site-packages"
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    parts = site.split("/")
    for i in range(1, len(parts) + 1):
        members.append((_info("/".join(parts[:i]), tarfile.DIRTYPE, 0o755), None))
    for meta_dir in sorted(p for p in (HERE / "python").iterdir() if p.is_dir()):
        members.append((_info(f"{site}/{meta_dir.name}", tarfile.DIRTYPE, 0o755), None))
        for f in sorted(meta_dir.iterdir()):
            data = f.read_bytes()
            members.append(
                (_info(f"{site}/{meta_dir.name}/{f.name}", tarfile.REGTYPE, 0o644, len(data)), data)
            )
    return _tar(members)


def build(layout: Path, tag: str = "demo") -> None:
    import secrets

    password = secrets.token_urlsafe(12)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    token = "npm_" + "".join(secrets.choice(alphabet) for _ in range(36))
    env_file = f"APP_ENV=production\nDB_PASSWORD={password}\n".encode()
    layers = [
        (layer_from_dir(HERE / "rootfs"), "COPY rootfs/ / # buildkit"),
        (
            _python_layer(),
            "RUN /bin/sh -c pip install urllib3==1.24.1 requests==2.19.0 Jinja2==2.10"
            " Pillow==8.0.0 PyYAML==5.3 # buildkit",
        ),
        (
            _tar(
                [
                    (_info("app", tarfile.DIRTYPE, 0o755), None),
                    (_info("app/.env", tarfile.REGTYPE, 0o600, len(env_file)), env_file),
                ]
            ),
            "COPY .env /app/.env # buildkit",
        ),
        (
            _tar(
                [
                    (_info("app", tarfile.DIRTYPE, 0o755), None),
                    (_info("app/.wh.config.ini", tarfile.REGTYPE, 0o644), b""),
                    (_info("app/.wh..env", tarfile.REGTYPE, 0o644), b""),
                    (_info("app/hello", tarfile.SYMTYPE, 0o777, link="hello.sh"), None),
                ]
            ),
            f"|1 NPM_TOKEN={token} /bin/sh -c rm /app/config.ini /app/.env && ln -s hello.sh /app/hello"
            " # buildkit",
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
