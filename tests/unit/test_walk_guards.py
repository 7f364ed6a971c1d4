"""Hostile images: every guard of the layer walk, each test named after the attack it covers.

Each hostile test writes a real OCI layout with :mod:`helpers.imagewriter` (a crafted
layer or document), runs ``customhouse export`` (and ``inspect`` where the attack is
in the metadata) as a subprocess with a timeout, and checks that it

1. exits 2,
2. says on stderr which layer and entry and what the problem is, without a traceback,
3. leaves nothing behind: no output file, no ``.part`` file, nothing new in its temp
   dir, its cwd or beside the test directory (the process runs with cwd, HOME and
   TMPDIR inside the test's own directory),
4. finishes (a hang is a ``TimeoutExpired`` failure; there are no timing assertions).

The positive tests at the end check what the walk must get right on benign input:
whiteouts, opaque directories, deleted-but-shipped files, hard links, compressions.
"""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from customhouse.errors import DigestMismatchError, LayerError, LimitExceededError
from customhouse.limits import Limits, MiB
from customhouse.sources import open_image
from customhouse.walk.entry import Entry, Kind
from customhouse.walk.layers import Walk
from helpers import run_cli
from helpers.imagewriter import (
    Layer,
    Member,
    Raw,
    WrittenImage,
    block_device,
    char_device,
    directory,
    fifo,
    file,
    hardlink,
    opaque,
    raw_header,
    sha256,
    symlink,
    whiteout,
    write_layout,
)

# --- harness ----------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with (size, mtime_ns), symlinks not followed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            # directories: presence only (creating and removing a .part file touches them)
            is_dir = name in dirnames and not p.is_symlink()
            out[str(p.relative_to(root))] = (0, 0) if is_dir else (st.st_size, st.st_mtime_ns)
    return out


class Sandbox:
    """A test's own directory: ``work/`` is the cwd of the CLI, the image lives in it."""

    def __init__(self, tmp_path: Path) -> None:
        self.base = tmp_path
        self.work = tmp_path / "work"
        self.work.mkdir()
        (self.work / ".tmp").mkdir()  # TMPDIR and HOME of the CLI (see helpers.run_cli)
        (self.work / ".home").mkdir()
        self.image_dir = self.work / "image"

    def write(self, layers: Sequence[Layer], **kw: Any) -> WrittenImage:
        return write_layout(self.image_dir, layers, **kw)

    def refused(
        self,
        image: WrittenImage,
        *,
        problem: Sequence[str],
        layer: int | None = None,
        entry: str | None = None,
        env: Mapping[str, str] | None = None,
        commands: Sequence[str] = ("export",),
    ) -> str:
        """Run each command on ``image``; assert the refusal contract; return export's stderr."""
        # the escape targets a traversal would reach from the cwd or the layout
        escapes = [self.base / "etc", self.base / "x", self.work / "etc", self.work / "x"]
        siblings_before = sorted(p.name for p in self.base.parent.iterdir())
        before = _tree(self.base)
        stderr_of: dict[str, str] = {}
        for command in commands:
            out = self.work / "out.tar"
            args = [command, image.source] + (["-o", "out.tar"] if command == "export" else [])
            result = run_cli(*args, cwd=self.work, env=env)
            stderr = result.stderr
            stderr_of[command] = stderr
            assert result.returncode == 2, (command, result.returncode, stderr)
            assert "Traceback" not in stderr, stderr
            assert stderr.startswith("customhouse: error: "), stderr
            for word in problem:
                assert word.lower() in stderr.lower(), (word, stderr)
            if layer is not None:
                assert f"layer #{layer} " in stderr, (layer, stderr)
                assert image.layers[layer].diff_id_short in stderr, stderr
            if entry is not None:
                assert repr(entry) in stderr or f"'{entry}'" in stderr, (entry, stderr)
            assert not out.exists()
            leftovers = [p.name for p in self.work.iterdir() if p.name.endswith(".part")]
            assert leftovers == [], leftovers
        after = _tree(self.base)
        assert after == before, set(after) ^ set(before)
        assert not any((self.work / ".tmp").iterdir())
        assert sorted(p.name for p in self.base.parent.iterdir()) == siblings_before
        for p in escapes:
            assert not p.exists(), p
        return stderr_of.get("export", next(iter(stderr_of.values()), ""))


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def _walk(image: WrittenImage, limits: Limits | None = None) -> list[tuple[Entry, bytes | None]]:
    """Walk in-process, reading every file's content."""
    out = []
    with open_image(image.source, limits=limits or Limits()) as img:
        for entry, content in Walk(img, limits=limits or Limits()):
            out.append((entry, content.read_all() if content is not None else None))
    return out


def _export(
    tmp: Path, image: WrittenImage
) -> dict[str, tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]:
    """``customhouse export`` through the CLI, read back: name -> info (files: with bytes)."""
    result = run_cli("export", image.source, "-o", "out.tar", cwd=tmp)
    assert result.returncode == 0, result.stderr
    members: dict[str, Any] = {}
    with tarfile.open(tmp / "out.tar") as tf:
        for ti in tf:
            assert ti.name not in members, f"{ti.name} exported twice"
            if ti.isfile():
                f = tf.extractfile(ti)
                assert f is not None
                members[ti.name] = (ti, f.read())
            else:
                members[ti.name] = ti
    return members


OK = file("ok", b"harmless\n")

# --- path traversal ------------------------------------------------------------------------


def test_path_traversal_dotdot_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, file("../etc/passwd", b"root::0:0::/:/bin/sh\n")])])
    box.refused(img, layer=0, entry="../etc/passwd", problem=["path traversal"])


def test_path_traversal_nested_dotdot_refused(box: Sandbox) -> None:
    img = box.write([Layer([directory("a"), file("a/../../x", b"escaped\n")])])
    box.refused(img, layer=0, entry="a/../../x", problem=["path traversal"])


def test_path_traversal_absolute_name_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, file("/etc/passwd", b"root::0:0::/:/bin/sh\n")])])
    box.refused(img, layer=0, entry="/etc/passwd", problem=["absolute", "path traversal"])


def test_path_traversal_pax_path_refused(box: Sandbox) -> None:
    # the ustar name is harmless; the pax 'path' record (which wins) climbs out
    img = box.write([Layer([OK, file("innocent", b"escaped\n", pax={"path": "../x"})])])
    box.refused(img, layer=0, entry="../x", problem=["path traversal"])


def test_path_traversal_gnu_longname_refused(box: Sandbox) -> None:
    name = "../" + "d" * 150 + "/x"
    img = box.write([Layer([OK, file(name, b"escaped\n", gnu_longname=True)])])
    box.refused(img, layer=0, entry=name, problem=["path traversal"])


def test_path_traversal_in_second_layer_names_that_layer(box: Sandbox) -> None:
    img = box.write([Layer([OK]), Layer([file("../../x", b"escaped\n")], compression="zstd")])
    box.refused(img, layer=1, entry="../../x", problem=["path traversal"])


# --- symlink escapes --------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/etc", "../../.."], ids=["absolute", "dotdot"])
def test_symlink_escape_write_through_in_same_layer_refused(box: Sandbox, target: str) -> None:
    img = box.write([Layer([symlink("evil", target), file("evil/passwd", b"pwned\n")])])
    box.refused(img, layer=0, entry="evil/passwd", problem=["symlink"])


@pytest.mark.parametrize("target", ["/etc", "../../.."], ids=["absolute", "dotdot"])
def test_symlink_escape_write_through_in_later_layer_refused(box: Sandbox, target: str) -> None:
    img = box.write(
        [Layer([OK, symlink("evil", target)]), Layer([file("evil/passwd", b"pwned\n")])]
    )
    box.refused(img, layer=0, entry="evil", problem=["symlink escape"])


def test_symlink_escape_later_layer_overwrites_through_symlinked_parent_dir_refused(
    box: Sandbox,
) -> None:
    # usr/lib is a symlink out of the root; two layers later a file lands "inside" it
    # (the top layer declares usr, but not usr/lib, so the symlink is not replaced)
    img = box.write(
        [
            Layer([directory("usr"), symlink("usr/lib", "../../../../etc")]),
            Layer([file("unrelated", b"x")]),
            Layer([directory("usr"), file("usr/lib/ld.so.preload", b"/tmp/evil.so\n")]),
        ]
    )
    box.refused(img, layer=0, entry="usr/lib", problem=["symlink escape"])


def test_symlink_chain_escape_refused(box: Sandbox) -> None:
    img = box.write([Layer([symlink("a", "b"), symlink("b", "/etc"), file("a/shadow", b"x")])])
    box.refused(img, layer=0, entry="a/shadow", problem=["symlink"])


# --- hard-link escapes --------------------------------------------------------------------------


def test_hardlink_escape_dotdot_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, hardlink("shadow", "../../etc/shadow")])])
    box.refused(img, layer=0, entry="shadow", problem=["path traversal"])


def test_hardlink_escape_absolute_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, hardlink("shadow", "/etc/shadow")])])
    box.refused(img, layer=0, entry="shadow", problem=["absolute"])


def test_hardlink_through_symlink_same_layer_refused(box: Sandbox) -> None:
    img = box.write([Layer([symlink("evil", "/etc"), hardlink("shadow", "evil/shadow")])])
    box.refused(img, layer=0, entry="shadow", problem=["symlink", "hardlink escape"])


def test_hardlink_through_symlink_of_lower_layer_refused(box: Sandbox) -> None:
    img = box.write(
        [Layer([symlink("evil", "/etc")]), Layer([OK, hardlink("shadow", "evil/shadow")])]
    )
    box.refused(img, layer=0, entry="evil", problem=["symlink escape"])


def test_hardlink_to_missing_target_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, hardlink("orphan", "nowhere/file")])])
    box.refused(img, layer=0, entry="orphan", problem=["hardlink", "nowhere/file"])


def test_hardlink_to_itself_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, hardlink("loop", "loop")])])
    box.refused(img, layer=0, entry="loop", problem=["hardlink"])


# --- decompression bombs and absurd sizes -------------------------------------------------------

BOMB_ENV = {
    "CUSTOMHOUSE_LIMIT_MAX_RATIO": "20",
    "CUSTOMHOUSE_LIMIT_RATIO_GRACE_BYTES": str(1 * MiB),
}
ZEROS = bytes(16 * MiB)  # compresses ~1000:1 with gzip, far more with zstd


def test_decompression_bomb_gzip_ratio_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, file("zeros", ZEROS)], compression="gzip")])
    assert len(img.layers[0].blob) * 20 < len(ZEROS)  # the crafted ratio really exceeds 20:1
    box.refused(img, layer=0, problem=["decompression bomb"], env=BOMB_ENV)


def test_decompression_bomb_zstd_ratio_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, file("zeros", ZEROS)], compression="zstd")])
    box.refused(img, layer=0, problem=["decompression bomb"], env=BOMB_ENV)


LIMIT_ENV = {"CUSTOMHOUSE_LIMIT_MAX_LAYER_BYTES": str(1 * MiB)}


@pytest.mark.parametrize(
    ("compression", "env"),
    [("gzip", BOMB_ENV), ("zstd", BOMB_ENV), ("gzip", LIMIT_ENV), ("none", LIMIT_ENV)],
    ids=["gzip-ratio", "zstd-ratio", "gzip-size", "none-size"],
)
def test_decompression_bomb_error_names_the_entry(
    box: Sandbox, compression: str, env: dict[str, str]
) -> None:
    payload = ZEROS if env is BOMB_ENV else os.urandom(3 * MiB)
    img = box.write([Layer([OK, file("zeros", payload)], compression=compression)])  # type: ignore[arg-type]
    box.refused(img, layer=0, entry="zeros", problem=["limit"], env=env)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_decompression_bomb_ratio_refused_in_process(tmp_path: Path, compression: str) -> None:
    img = write_layout(tmp_path / "img", [Layer([file("zeros", ZEROS)], compression=compression)])  # type: ignore[arg-type]
    limits = Limits(max_ratio=20, ratio_grace_bytes=1 * MiB)
    with pytest.raises(LimitExceededError, match="decompression bomb"):
        _walk(img, limits)
    # the same image is fine under the default limits (16 MiB is inside the grace)
    assert any(e.path == "zeros" for e, _ in _walk(img))


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_decompression_bomb_absolute_layer_size_refused(box: Sandbox, compression: str) -> None:
    payload = os.urandom(3 * MiB)  # incompressible: only the absolute limit can stop it
    img = box.write([Layer([OK, file("big", payload)], compression=compression)])  # type: ignore[arg-type]
    box.refused(img, layer=0, problem=["exceeds the limit"], env=LIMIT_ENV)


def test_layer_size_limit_refused_in_process(tmp_path: Path) -> None:
    img = write_layout(tmp_path / "img", [Layer([file("big", os.urandom(2 * MiB))])])
    with pytest.raises(LimitExceededError, match="uncompressed size"):
        _walk(img, Limits(max_layer_bytes=1 * MiB))


@pytest.mark.parametrize(
    "member",
    [
        file("huge", b"", declared_size=2**45),  # GNU base-256 size field
        file("huge", b"", pax={"size": str(2**50)}),  # pax size record
    ],
    ids=["base256", "pax"],
)
def test_huge_declared_file_size_refused(box: Sandbox, member: Member) -> None:
    img = box.write([Layer([OK, member, file("after", b"x")])])
    box.refused(img, layer=0, entry="huge", problem=["limit"])


def test_declared_file_size_beyond_stream_is_truncation(box: Sandbox) -> None:
    # within the limits, but the bytes are not there: a truncated stream, not a hang
    img = box.write([Layer([OK, file("liar", b"short", declared_size=64 * 1024)])])
    box.refused(img, layer=0, entry="liar", problem=["truncated"])


def test_tar_member_count_beyond_max_members_refused(box: Sandbox) -> None:
    img = box.write([Layer([file(f"f{i:04}", b"") for i in range(300)])])
    env = {"CUSTOMHOUSE_LIMIT_MAX_MEMBERS": "100"}
    box.refused(img, layer=0, problem=["more than 100"], env=env)


def test_tar_member_count_refused_in_process(tmp_path: Path) -> None:
    img = write_layout(tmp_path / "img", [Layer([file(f"f{i}", b"") for i in range(50)])])
    with pytest.raises(LimitExceededError, match="more than 10 tar entries"):
        _walk(img, Limits(max_members=10))


def test_pax_header_larger_than_max_header_bytes_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, file("padded", b"x", pax={"comment": "A" * 20_000})])])
    env = {"CUSTOMHOUSE_LIMIT_MAX_HEADER_BYTES": "4096"}
    box.refused(img, layer=0, problem=["extension header", "4096"], env=env)


def test_gnu_longname_larger_than_max_header_bytes_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, file("n/" * 3000 + "x", b"x", gnu_longname=True)])])
    env = {"CUSTOMHOUSE_LIMIT_MAX_HEADER_BYTES": "4096"}
    box.refused(img, layer=0, problem=["extension header", "4096"], env=env)


# --- hostile metadata: index, manifest, config -----------------------------------------------


def _meta_refused(box: Sandbox, img: WrittenImage, problem: Sequence[str], **kw: Any) -> None:
    box.refused(img, problem=problem, commands=("inspect", "export"), **kw)


def test_huge_manifest_refused(box: Sandbox) -> None:
    def bloat(doc: dict[str, Any]) -> dict[str, Any]:
        doc["annotations"] = {"padding": "x" * (5 * MiB)}
        return doc

    img = box.write([Layer([OK])], mutate_manifest=bloat)
    _meta_refused(box, img, [img.manifest_digest, "limit"])


def test_manifest_longer_than_its_descriptor_size_refused(box: Sandbox) -> None:
    def shrink(doc: dict[str, Any]) -> dict[str, Any]:
        doc["manifests"][0]["size"] -= 10
        return doc

    img = box.write([Layer([OK])], mutate_index=shrink)
    _meta_refused(box, img, [img.manifest_digest, "size"])


def test_index_with_too_many_entries_refused(box: Sandbox) -> None:
    def multiply(doc: dict[str, Any]) -> dict[str, Any]:
        doc["manifests"] = doc["manifests"] * 2000
        return doc

    img = box.write([Layer([OK])], mutate_index=multiply)
    _meta_refused(box, img, ["index.json", "2000 entries"])


def test_manifest_with_too_many_layers_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK])] * 3)
    env = {"CUSTOMHOUSE_LIMIT_MAX_LAYERS": "2"}
    box.refused(img, problem=["3 layers", "limit"], env=env)


def test_huge_config_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK])], config_extra={"padding": "x" * (9 * MiB)})
    _meta_refused(box, img, ["config", img.config_digest, "limit"])


@pytest.mark.parametrize("where", ["index", "manifest", "config"])
def test_malformed_json_refused(box: Sandbox, where: str) -> None:
    def garble(doc: dict[str, Any]) -> bytes:
        return json.dumps(doc).encode()[:-7] + b",,}"

    img = box.write([Layer([OK])], **{f"mutate_{where}": garble})
    _meta_refused(box, img, ["invalid JSON"])


@pytest.mark.parametrize("where", ["index", "manifest", "config"])
def test_deeply_nested_json_refused(box: Sandbox, where: str) -> None:
    img = box.write([Layer([OK])], **{f"mutate_{where}": lambda doc: b"[" * 100_000})
    _meta_refused(box, img, ["nested too deeply"])


BAD_DIGESTS = [
    pytest.param("sha256:XYZ", id="not-hex"),
    pytest.param("md5:d41d8cd98f00b204e9800998ecf8427e", id="md5"),
    pytest.param(
        "sha256:" + "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        id="uppercase",
    ),
    pytest.param("sha256:" + "e3b0" * 8, id="short"),
    pytest.param(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", id="no-algorithm"
    ),
    pytest.param("sha256:../../../../etc/passwd", id="path"),
]


@pytest.mark.parametrize("bad", BAD_DIGESTS)
def test_bad_digest_in_index_descriptor_refused(box: Sandbox, bad: str) -> None:
    def spoil(doc: dict[str, Any]) -> dict[str, Any]:
        doc["manifests"][0]["digest"] = bad
        return doc

    img = box.write([Layer([OK])], mutate_index=spoil)
    _meta_refused(box, img, ["digest", bad[:40]])


@pytest.mark.parametrize("bad", BAD_DIGESTS)
def test_bad_digest_in_layer_descriptor_refused(box: Sandbox, bad: str) -> None:
    def spoil(doc: dict[str, Any]) -> dict[str, Any]:
        doc["layers"][0]["digest"] = bad
        return doc

    img = box.write([Layer([OK])], mutate_manifest=spoil)
    _meta_refused(box, img, ["layers[0]", "digest"])


@pytest.mark.parametrize("bad", BAD_DIGESTS)
def test_bad_digest_in_config_diff_ids_refused(box: Sandbox, bad: str) -> None:
    def spoil(doc: dict[str, Any]) -> dict[str, Any]:
        doc["rootfs"]["diff_ids"][0] = bad
        return doc

    img = box.write([Layer([OK])], mutate_config=spoil)
    _meta_refused(box, img, ["diff_ids[0]", "digest"])


def test_schema1_manifest_refused(box: Sandbox) -> None:
    schema1 = {
        "schemaVersion": 1,
        "mediaType": "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "name": "library/hello",
        "tag": "latest",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": sha256(b"")}],
        "history": [{"v1Compatibility": "{}"}],
    }

    def to_schema1(doc: dict[str, Any]) -> dict[str, Any]:
        return schema1

    def index_type(doc: dict[str, Any]) -> dict[str, Any]:
        doc["manifests"][0]["mediaType"] = schema1["mediaType"]
        return doc

    img = box.write([Layer([OK])], mutate_manifest=to_schema1, mutate_index=index_type)
    _meta_refused(box, img, ["schema 1", "unsupported"])


# --- device files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "device", [char_device("dev/mem", 1, 1), block_device("dev/sda", 8, 0)], ids=["char", "block"]
)
def test_device_file_refused(box: Sandbox, device: Member) -> None:
    img = box.write([Layer([directory("dev"), device])])
    box.refused(img, layer=0, entry=device.name, problem=["device"])


# --- malformed and truncated streams ------------------------------------------------------------


def test_malformed_tar_header_bad_checksum_refused(box: Sandbox) -> None:
    bad = file("tampered", b"x", header_patch={0: b"T"}, fix_checksum=False)
    img = box.write([Layer([OK, bad])])
    box.refused(img, layer=0, problem=["malformed tar header", "checksum"])


def test_malformed_tar_header_garbage_block_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, Raw(b"\xde\xad\xbe\xef" * 128), file("after", b"x")])])
    box.refused(img, layer=0, problem=["malformed tar header"])


def test_malformed_tar_header_bad_octal_field_refused(box: Sandbox) -> None:
    bad = Raw(raw_header("weird", size=1, patch={124: b"99999999999\0"}))
    img = box.write([Layer([OK, bad, Raw(b"x" + bytes(511))])])
    box.refused(img, layer=0, problem=["malformed tar header"])


def test_unknown_tar_entry_type_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, Raw(raw_header("odd", type=b"Z"))])])
    box.refused(img, layer=0, entry="odd", problem=["unknown tar entry type"])


def test_link_entry_with_content_refused(box: Sandbox) -> None:
    # a symlink header claiming data: a parser-confusion vector (the "data" hides a header)
    smuggled = Raw(
        raw_header("evil", type=b"2", linkname="/etc", size=512) + raw_header("x", size=0)
    )
    img = box.write([Layer([OK, smuggled])])
    box.refused(img, layer=0, entry="evil", problem=["content"])


def test_truncated_gzip_refused(box: Sandbox) -> None:
    full = write_layout(box.base / "full", [Layer([OK, file("data", os.urandom(40_000))])])
    cut = len(full.layers[0].blob) // 2
    img = box.write([Layer(tar=full.layers[0].tar, truncate_blob=cut)])
    box.refused(img, layer=0, problem=["truncated gzip"])


def test_truncated_zstd_refused(box: Sandbox) -> None:
    tar_bytes = (
        write_layout(box.base / "full", [Layer([OK, file("data", os.urandom(40_000))])])
        .layers[0]
        .tar
    )
    img = box.write([Layer(tar=tar_bytes, compression="zstd", truncate_blob=20_000)])
    box.refused(img, layer=0, problem=["truncated", "zstd"])


def test_truncated_zstd_with_matching_diff_id_refused(box: Sandbox) -> None:
    full = write_layout(box.base / "full", [Layer([OK, file("data", os.urandom(40_000))])])
    # the attacker also controls the config: make the diffID match what a lax reader yields
    img = box.write(
        [
            Layer(
                tar=full.layers[0].tar,
                compression="zstd",
                truncate_blob=20_000,
                diff_id=sha256(b""),
            )
        ]
    )
    box.refused(img, layer=0, problem=["truncated"])


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_truncated_tar_in_middle_of_file_refused(box: Sandbox, compression: str) -> None:
    members = [OK, file("data", os.urandom(10_000))]
    img = box.write([Layer(members, compression=compression, truncate_tar=3 * 512 + 3000)])  # type: ignore[arg-type]
    box.refused(img, layer=0, entry="data", problem=["truncated tar"])


def test_truncated_tar_inside_a_header_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, file("next", b"x")], truncate_tar=2 * 512 + 100)])
    box.refused(img, layer=0, problem=["truncated tar header"])


def test_trailing_garbage_after_gzip_stream_refused(box: Sandbox) -> None:
    tar_bytes = write_layout(box.base / "full", [Layer([OK])]).layers[0].tar
    blob = gzip.compress(tar_bytes, mtime=0) + b"GARBAGE"
    img = box.write(
        [
            Layer(
                tar=blob,
                compression="none",
                media_type="application/vnd.oci.image.layer.v1.tar+gzip",
                diff_id=sha256(tar_bytes),
            )
        ]
    )
    box.refused(img, layer=0, problem=["trailing garbage"])


# --- integrity: digest, diffID and size lies -----------------------------------------------------


@pytest.mark.parametrize(
    "compression",
    [
        "none",
        "gzip",
        "zstd",
    ],
)
def test_layer_digest_mismatch_flipped_byte_refused(box: Sandbox, compression: str) -> None:
    img = box.write([Layer([OK, file("data", os.urandom(4096))], compression=compression)])  # type: ignore[arg-type]
    layer = img.layers[0]
    # a byte inside the file data (for "none") or in the middle of the compressed stream
    offset = 3 * 512 + 100 if compression == "none" else len(layer.blob) // 2
    img.flip_byte(layer.digest, offset)
    box.refused(img, layer=0, problem=[layer.digest])


def test_layer_corrupted_gzip_blob_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK, file("data", os.urandom(4096))], compression="gzip")])
    layer = img.layers[0]
    img.flip_byte(layer.digest, len(layer.blob) // 2)
    box.refused(img, layer=0, problem=[])


def test_layer_diff_id_mismatch_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK]), Layer([file("x", b"y")], diff_id=sha256(b"not this layer"))])
    stderr = box.refused(img, layer=1, problem=["diffID", img.layers[1].true_diff_id])
    assert sha256(b"not this layer") in stderr


def test_layer_diff_id_mismatch_refused_in_process(tmp_path: Path) -> None:
    img = write_layout(tmp_path / "img", [Layer([OK], diff_id=sha256(b"lie"))])
    with pytest.raises(DigestMismatchError, match="diffID") as info:
        _walk(img)
    assert info.value.expected == sha256(b"lie")
    assert info.value.actual == img.layers[0].true_diff_id


@pytest.mark.parametrize("delta", [-1, +1], ids=["declared-smaller", "declared-larger"])
def test_layer_size_mismatch_refused(box: Sandbox, delta: int) -> None:
    blob_len = len(write_layout(box.base / "probe", [Layer([OK])]).layers[0].blob)
    img = box.write([Layer([OK], declared_size=blob_len + delta)])
    box.refused(img, layer=0, problem=[img.layers[0].digest])


@pytest.mark.parametrize("which", ["manifest", "config"])
def test_metadata_digest_mismatch_flipped_byte_refused(box: Sandbox, which: str) -> None:
    img = box.write([Layer([OK])])
    digest = img.manifest_digest if which == "manifest" else img.config_digest
    img.flip_byte(digest, 5)
    _meta_refused(box, img, [digest, "digest mismatch"])


def test_missing_layer_blob_refused(box: Sandbox) -> None:
    img = box.write([Layer([OK])])
    img.blob_path(img.layers[0].digest).unlink()
    box.refused(img, problem=[img.layers[0].digest, "missing"])


def test_layer_blob_replaced_by_symlink_refused(box: Sandbox) -> None:
    # a layout whose blob is a symlink to a file elsewhere must not be followed
    img = box.write([Layer([OK])])
    path = img.blob_path(img.layers[0].digest)
    target = box.work / "elsewhere"
    target.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(target)
    box.refused(img, problem=[img.layers[0].digest])


# --- positive: what the walk must get right ------------------------------------------------------


def _by_path(
    entries: list[tuple[Entry, bytes | None]],
) -> dict[tuple[str, int], tuple[Entry, bytes | None]]:
    return {(e.path, e.layer): (e, c) for e, c in entries}


def test_whiteouts_and_opaque_dirs_across_layers_give_the_visible_set(tmp_path: Path) -> None:
    img = write_layout(
        tmp_path / "img",
        [
            Layer(
                [
                    directory("etc"),
                    file("etc/a", b"a0"),
                    file("etc/b", b"b0"),
                    directory("var"),
                    directory("var/lib"),
                    file("var/lib/x", b"x0"),
                    directory("var/lib/sub"),
                    file("var/lib/sub/deep", b"d0"),
                    directory("opt"),
                    file("opt/keep", b"k0"),
                ]
            ),
            Layer(
                [
                    whiteout("etc/a"),
                    directory("var/lib"),
                    opaque("var/lib"),
                    file("var/lib/y", b"y1"),
                    file("secret", b"s1"),
                    file("opt/keep", b"k1"),
                ],
                compression="zstd",
            ),
            Layer([whiteout("secret"), whiteout("opt")], compression="none"),
        ],
    )
    got = _by_path(_walk(img))
    visible = {path for (path, _), (e, _) in got.items() if e.visible}
    assert visible == {"etc", "etc/b", "var", "var/lib", "var/lib/y"}
    expected_hidden = {
        ("etc/a", 0): 1,
        ("var/lib/x", 0): 1,
        ("var/lib/sub", 0): 1,
        ("var/lib/sub/deep", 0): 1,
        ("var/lib", 0): 1,  # replaced by layer 1's own var/lib entry
        ("secret", 1): 2,
        ("opt", 0): 2,
        ("opt/keep", 1): 2,
    }
    for key, by in expected_hidden.items():
        entry, _ = got[key]
        assert (entry.visible, entry.hidden_by) == (False, by), key
    assert not got[("opt/keep", 0)][0].visible  # hidden_by: see the test below
    assert {k for k, (e, _) in got.items() if not e.visible} == set(expected_hidden) | {
        ("opt/keep", 0)
    }
    # whiteout markers are never yielded as entries
    assert not any(".wh." in path for path, _ in got)


def test_hidden_by_names_the_nearest_layer_that_hid_the_entry(tmp_path: Path) -> None:
    img = write_layout(
        tmp_path / "img",
        [
            Layer([directory("opt"), file("opt/keep", b"k0")]),
            Layer([file("opt/keep", b"k1")]),
            Layer([whiteout("opt")]),
        ],
    )
    got = _by_path(_walk(img))
    assert got[("opt/keep", 0)][0].hidden_by == 1
    assert got[("opt/keep", 1)][0].hidden_by == 2


def test_opaque_marker_without_its_directory_entry_keeps_the_directory(tmp_path: Path) -> None:
    img = write_layout(
        tmp_path / "img",
        [
            Layer([directory("d"), file("d/old", b"o")]),
            Layer([opaque("d"), file("d/new", b"n")]),
        ],
    )
    got = _by_path(_walk(img))
    assert got[("d", 0)][0].visible, "the opaque directory itself must survive"
    assert not got[("d/old", 0)][0].visible
    assert got[("d/new", 1)][0].visible


def test_file_deleted_in_layer_2_is_still_yielded_with_visible_false(tmp_path: Path) -> None:
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    img = write_layout(
        tmp_path / "img",
        [
            Layer([directory("root"), file("root/readme", b"hi")]),
            Layer([directory("root/.ssh"), file("root/.ssh/id_ed25519", key, mode=0o600)]),
            Layer([whiteout("root/.ssh/id_ed25519")]),
        ],
    )
    got = _by_path(_walk(img))
    entry, content = got[("root/.ssh/id_ed25519", 1)]
    assert (entry.visible, entry.hidden_by, entry.kind, entry.mode) == (False, 2, Kind.FILE, 0o600)
    assert content == key
    assert got[("root/readme", 0)][0].visible


def test_file_replaced_by_later_layer_keeps_layer_of_origin(tmp_path: Path) -> None:
    img = write_layout(
        tmp_path / "img", [Layer([file("app.conf", b"v1")]), Layer([file("app.conf", b"v2")])]
    )
    got = _by_path(_walk(img))
    assert (got[("app.conf", 0)][0].visible, got[("app.conf", 0)][0].hidden_by) == (False, 1)
    assert got[("app.conf", 0)][1] == b"v1"
    assert got[("app.conf", 1)][0].visible and got[("app.conf", 1)][1] == b"v2"


def test_symlink_replaced_by_directory_in_later_layer_is_not_an_escape(tmp_path: Path) -> None:
    img = write_layout(
        tmp_path / "img",
        [
            Layer([symlink("lib", "/usr/lib")]),
            Layer([directory("lib"), file("lib/libc.so", b"ELF")]),
        ],
    )
    got = _by_path(_walk(img))
    assert not got[("lib", 0)][0].visible
    assert got[("lib/libc.so", 1)][0].visible


def test_symlinks_pointing_outside_are_kept_as_links(tmp_path: Path) -> None:
    # a symlink may point anywhere; only writing through it is an attack
    img = write_layout(
        tmp_path / "img", [Layer([symlink("etc-link", "/etc"), symlink("up", "../../..")])]
    )
    members = _export(tmp_path, img)
    assert (
        isinstance(members["etc-link"], tarfile.TarInfo) and members["etc-link"].linkname == "/etc"
    )
    assert isinstance(members["up"], tarfile.TarInfo) and members["up"].linkname == "../../.."


def test_hardlinks_within_a_layer(tmp_path: Path) -> None:
    img = write_layout(
        tmp_path / "img",
        [
            Layer(
                [
                    directory("bin"),
                    file("bin/busybox", b"BB", mode=0o755),
                    hardlink("bin/sh", "bin/busybox"),
                    hardlink("bin/ls", "bin/busybox"),
                ]
            )
        ],
    )
    entries = _by_path(_walk(img))
    link = entries[("bin/sh", 0)][0]
    assert (link.kind, link.linkname, link.visible) == (Kind.HARDLINK, "bin/busybox", True)
    members = _export(tmp_path, img)
    names = list(members)
    for name in ("bin/sh", "bin/ls"):
        ti = members[name]
        assert isinstance(ti, tarfile.TarInfo) and ti.islnk() and ti.linkname == "bin/busybox"
        assert names.index(name) > names.index("bin/busybox"), "a link must follow its target"
    assert members["bin/busybox"][1] == b"BB"  # type: ignore[index]


def test_hardlink_whose_target_is_overwritten_later_exports_original_content(
    tmp_path: Path,
) -> None:
    img = write_layout(
        tmp_path / "img",
        [
            Layer(
                [
                    file("etc/original", b"old content\n", mode=0o640),
                    hardlink("etc/alias", "etc/original"),
                ]
            ),
            Layer([file("etc/original", b"new content\n")]),
        ],
    )
    entries = _by_path(_walk(img))
    assert entries[("etc/alias", 0)][0].visible
    assert entries[("etc/alias", 0)][0].target_hidden
    members = _export(tmp_path, img)
    alias = members["etc/alias"]
    assert isinstance(alias, tuple), "the link must be re-materialized as a regular file"
    assert alias[1] == b"old content\n" and alias[0].mode == 0o640
    assert members["etc/original"][1] == b"new content\n"  # type: ignore[index]


def test_multi_member_gzip_layer(tmp_path: Path) -> None:
    files = {f"f{i}": os.urandom(3000) for i in range(8)}
    img = write_layout(
        tmp_path / "img", [Layer([file(n, c) for n, c in files.items()], gzip_members=5)]
    )
    assert img.layers[0].blob.count(b"\x1f\x8b\x08") >= 5
    got = {e.path: c for e, c in _walk(img)}
    assert got == files


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_layer_compressions_walk_and_export_the_same_files(
    tmp_path: Path, compression: str
) -> None:
    members = [
        directory("usr"),
        directory("usr/bin"),
        file("usr/bin/tool", b"#!/bin/sh\necho hi\n", mode=0o755),
        symlink("usr/bin/alias", "tool"),
        fifo("usr/pipe"),
        file("usr/empty", b""),
        file("usr/" + "long" * 40, b"long name"),  # pax path for > 100 bytes
    ]
    img = write_layout(tmp_path / "img", [Layer(members, compression=compression)])  # type: ignore[arg-type]
    got = {e.path: (e.kind, e.mode, e.linkname, c) for e, c in _walk(img)}
    assert got == {
        "usr": (Kind.DIR, 0o755, "", None),
        "usr/bin": (Kind.DIR, 0o755, "", None),
        "usr/bin/tool": (Kind.FILE, 0o755, "", b"#!/bin/sh\necho hi\n"),
        "usr/bin/alias": (Kind.SYMLINK, 0o777, "tool", None),
        "usr/pipe": (Kind.FIFO, 0o644, "", None),
        "usr/empty": (Kind.FILE, 0o644, "", b""),
        "usr/" + "long" * 40: (Kind.FILE, 0o644, "", b"long name"),
    }
    exported = _export(tmp_path, img)
    assert set(exported) == set(got)


def test_dir_source_walk(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_bytes(b"box\n")
    os.link(root / "etc" / "hostname", root / "etc" / "hostname.bak")
    (root / "etc" / "link").symlink_to("/etc/shadow")  # reported, never followed
    (root / "etc" / "secret").write_bytes(b"s")
    (root / "etc" / "secret").chmod(0o600)
    os.mkfifo(root / "fifo")
    with open_image(f"dir:{root}") as img:
        got = {e.path: (e.kind, e.linkname, c.read_all() if c else None) for e, c in Walk(img)}
        assert img.transport == "dir" and img.layers == ()
    assert got["etc"] == (Kind.DIR, "", None)
    assert got["etc/link"] == (Kind.SYMLINK, "/etc/shadow", None)
    assert got["etc/secret"] == (Kind.FILE, "", b"s")
    assert got["fifo"] == (Kind.FIFO, "", None)
    pair = {got["etc/hostname"], got["etc/hostname.bak"]}
    assert (Kind.FILE, "", b"box\n") in pair
    assert (Kind.HARDLINK, "etc/hostname", None) in pair or (
        Kind.HARDLINK,
        "etc/hostname.bak",
        None,
    ) in pair


def test_dir_source_export_through_cli(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").write_bytes(b"content")
    result = run_cli("export", f"dir:{root}", "-o", "out.tar", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with tarfile.open(tmp_path / "out.tar") as tf:
        names = {ti.name: ti for ti in tf}
        f = tf.extractfile(names["a/b"])
        assert f is not None and f.read() == b"content"


def test_walk_verifies_digests_even_when_contents_are_not_read(tmp_path: Path) -> None:
    img = write_layout(
        tmp_path / "img", [Layer([file("data", os.urandom(2048))], compression="none")]
    )
    img.flip_byte(img.layers[0].digest, 3 * 512 + 10)
    with pytest.raises(DigestMismatchError) as info, open_image(img.source) as opened:
        for _ in Walk(opened):
            pass
    assert info.value.expected == img.layers[0].digest


def test_layer_error_names_layer_and_entry_in_process(tmp_path: Path) -> None:
    img = write_layout(tmp_path / "img", [Layer([OK]), Layer([file("../x", b"")])])
    with pytest.raises(LayerError) as info:
        _walk(img)
    assert info.value.entry == "../x"
    assert info.value.layer is not None and info.value.layer.startswith("#1 ")


def test_sandbox_export_of_a_benign_image_succeeds(box: Sandbox) -> None:
    # the harness itself: the same image minus the attack exports fine
    img = box.write([Layer([OK, directory("etc"), file("etc/passwd", b"root::0:0::/:/bin/sh\n")])])
    result = run_cli("export", img.source, "-o", "out.tar", cwd=box.work)
    assert result.returncode == 0, result.stderr
    with tarfile.open(box.work / "out.tar") as tf:
        assert sorted(tf.getnames()) == ["etc", "etc/passwd", "ok"]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_consumer_stopping_early_stops_the_inflating_worker(
    tmp_path: Path, compression: str
) -> None:
    import threading

    from customhouse.walk.layers import read_layer

    files = [
        file(f"f{i}", os.urandom(256 * 1024)) for i in range(24)
    ]  # 6 MiB: more chunks than the queue holds
    img = write_layout(tmp_path / "img", [Layer(files, compression=compression)])  # type: ignore[arg-type]
    with open_image(img.source) as image:
        items = read_layer(image, image.layers[0])
        next(items)
        assert any(t.name == "customhouse-inflate" for t in threading.enumerate())
        items.close()  # the consumer gives up after one entry
    assert not any(t.name == "customhouse-inflate" for t in threading.enumerate())
