"""``customhouse inspect`` and ``customhouse export`` end to end, as a subprocess."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import run_cli
from helpers.imagewriter import (
    Layer,
    WrittenImage,
    directory,
    file,
    symlink,
    whiteout,
    write_layout,
)

CONFIG = {
    "author": "imagewriter",
    "config": {
        "User": "app:app",
        "Env": ["PATH=/usr/bin:/bin", "MODE=prod"],
        "Entrypoint": ["/usr/bin/app"],
        "Cmd": ["--listen", ":8080"],
        "WorkingDir": "/srv",
        "Labels": {"org.opencontainers.image.version": "1.2.3"},
        "ExposedPorts": {"8080/tcp": {}},
    },
}


@pytest.fixture
def image(tmp_path: Path) -> WrittenImage:
    return write_layout(
        tmp_path / "layout",
        [
            Layer(
                [
                    directory("usr"),
                    directory("usr/bin"),
                    file("usr/bin/app", b"\x7fELF", mode=0o755),
                ]
            ),
            Layer(
                [file("srv/secret.txt", b"s3cret"), symlink("srv/current", "/srv")],
                compression="zstd",
            ),
            Layer([whiteout("srv/secret.txt")], compression="none"),
        ],
        ref="1.2.3",
        architecture="arm64",
        variant="v8",
        config_extra=CONFIG,
    )


def test_inspect_offline_nginx_json(tmp_path: Path) -> None:
    result = run_cli("inspect", "--offline", "nginx", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ref = json.loads(result.stdout)["reference"]
    assert ref["name"] == "docker.io/library/nginx:latest"
    assert (ref["registry"], ref["repository"], ref["tag"], ref["digest"]) == (
        "docker.io",
        "library/nginx",
        "latest",
        None,
    )
    assert ref["official"] is True and ref["publisher"] == "docker.io/library"


def test_inspect_offline_table_and_non_official(tmp_path: Path) -> None:
    digest = "sha256:" + "a" * 64
    result = run_cli("inspect", "--offline", f"localhost:5000/team/app:v1@{digest}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for text in ("localhost:5000", "team/app", "v1", digest, "no", "localhost:5000/team"):
        assert text in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "--offline", "NGINX"], "must be lowercase"),
        (["inspect", "--offline", "oci:/some/layout"], "--offline takes an image reference"),
        (["inspect", "--offline", "nginx@sha256:XYZ"], "digest"),
        (["inspect", "oci:does-not-exist"], "is not a directory"),
        (["inspect", "--platform", "linux", "oci:x"], "expected os/arch"),
        (["inspect", "--format", "yaml", "nginx"], "yaml"),
        (["inspect", "--bogus", "nginx"], "unrecognized arguments: --bogus"),
        (["export", "oci:does-not-exist"], "-o"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_inspect_json_on_a_layout(tmp_path: Path, image: WrittenImage) -> None:
    result = run_cli("inspect", "--format", "json", image.source, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["source"], info["transport"]) == (image.source, "oci")
    assert info["manifest"] == {
        "digest": image.manifest_digest,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "size": len(image.manifest),
        "synthesized": False,
    }
    assert info["platform"] == "linux/arm64"
    assert [(x["index"], x["digest"], x["diff_id"], x["size"]) for x in info["layers"]] == [
        (w.index, w.digest, w.diff_id, len(w.blob)) for w in image.layers
    ]
    assert [x["mediaType"] for x in info["layers"]] == [w.media_type for w in image.layers]
    assert info["layers"][1]["created_by"] == "imagewriter layer 1"
    cfg = info["config"]
    assert cfg["digest"] == image.config_digest
    assert (cfg["user"], cfg["env"], cfg["entrypoint"], cfg["cmd"]) == (
        "app:app",
        ["PATH=/usr/bin:/bin", "MODE=prod"],
        ["/usr/bin/app"],
        ["--listen", ":8080"],
    )
    assert cfg["working_dir"] == "/srv" and cfg["exposed_ports"] == ["8080/tcp"]
    assert cfg["labels"] == {"org.opencontainers.image.version": "1.2.3"}
    assert cfg["created"] == "2024-01-01T00:00:00Z" and cfg["author"] == "imagewriter"
    assert [h["created_by"] for h in cfg["history"]] == [f"imagewriter layer {i}" for i in range(3)]


def test_inspect_table_on_a_layout(tmp_path: Path, image: WrittenImage) -> None:
    result = run_cli("inspect", image.source, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in (
        "linux/arm64",
        "app:app",
        "/usr/bin/app",
        "MODE=prod",
        "1.2.3",
        "imagewriter layer 2",
    ):
        assert text in out, text
    assert image.manifest_digest[:40] in out
    for w in image.layers:
        assert w.digest[:19] in out and w.diff_id[:19] in out


def test_export_writes_the_final_filesystem(tmp_path: Path, image: WrittenImage) -> None:
    result = run_cli("export", image.source, "-o", "rootfs.tar", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "exported" in result.stderr and "removed by later layers" in result.stderr
    with tarfile.open(tmp_path / "rootfs.tar") as tf:
        members = {ti.name: ti for ti in tf}
        app = tf.extractfile(members["usr/bin/app"])
        assert app is not None and app.read() == b"\x7fELF"
    assert set(members) == {"usr", "usr/bin", "usr/bin/app", "srv/current"}
    assert members["usr/bin/app"].mode == 0o755
    assert members["srv/current"].issym() and members["srv/current"].linkname == "/srv"


def test_export_refuses_to_overwrite_without_force(tmp_path: Path, image: WrittenImage) -> None:
    out = tmp_path / "rootfs.tar"
    out.write_bytes(b"precious")
    result = run_cli("export", image.source, "-o", "rootfs.tar", cwd=tmp_path)
    assert result.returncode == 2
    assert "exists; use --force" in result.stderr and "Traceback" not in result.stderr
    assert out.read_bytes() == b"precious"
    assert not list(tmp_path.glob("*.part"))
    forced = run_cli("export", image.source, "-o", "rootfs.tar", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert tarfile.is_tarfile(out)


def test_export_to_a_directory_exits_2(tmp_path: Path, image: WrittenImage) -> None:
    (tmp_path / "outdir").mkdir()
    result = run_cli("export", image.source, "-o", "outdir", "--force", cwd=tmp_path)
    assert result.returncode == 2 and "is a directory" in result.stderr


def test_export_to_stdout(tmp_path: Path, image: WrittenImage) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "customhouse", "export", image.source, "-o", "-"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as tf:
        assert "usr/bin/app" in tf.getnames()


def test_export_failure_leaves_no_file_and_exits_2(tmp_path: Path, image: WrittenImage) -> None:
    image.flip_byte(image.layers[0].digest, len(image.layers[0].blob) // 2)
    result = run_cli("export", image.source, "-o", "rootfs.tar", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "layer #0" in result.stderr
    assert not (tmp_path / "rootfs.tar").exists() and not list(tmp_path.glob(".*part"))


def test_platform_option_selects_manifest(tmp_path: Path, image: WrittenImage) -> None:
    source = f"oci:{image.path}"  # no ref: the index entry is chosen by platform
    ok = run_cli("inspect", "--format", "json", "--platform", "linux/arm64", source, cwd=tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)["platform"] == "linux/arm64"
    bad = run_cli("inspect", "--platform", "linux/s390x", source, cwd=tmp_path)
    assert bad.returncode == 2 and "no manifest for platform linux/s390x" in bad.stderr


def test_platform_from_environment_variable(tmp_path: Path, image: WrittenImage) -> None:
    env = {"CUSTOMHOUSE_INSPECT_PLATFORM": "linux/s390x"}
    result = run_cli("inspect", f"oci:{image.path}", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "linux/s390x" in result.stderr
