"""Build real test images with the real tools (debootstrap, umoci, skopeo).

Reusable by the integration tests, ``make demo`` and the benchmarks: every builder is a
plain function. Anything that cannot run on this machine (a tool is missing, no network
to Debian's mirror, not root) raises :class:`BuildUnavailable`, whose message says why,
so callers can skip; any other failure raises :class:`BuildError` with the tool's output.

Expensive results (the Debian rootfs and its OCI layout) are cached under
``$CUSTOMHOUSE_TEST_CACHE`` (default ``~/.cache/customhouse-tests``). Each cache entry
is built in a temporary directory beside it and renamed into place, so an interrupted
build never leaves a half-made entry behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ALPINE_VERSIONS",
    "DEBIAN_MIRROR",
    "DEBIAN_SUITE",
    "IMPLICIT_DIR",
    "BuildError",
    "BuildUnavailable",
    "FsNode",
    "FsTree",
    "ImageFactory",
    "alpine_layout",
    "cache_dir",
    "debian_layout",
    "debian_rootfs",
    "diff_trees",
    "docker_archive_from_layout",
    "layout_layer_blobs",
    "multilayer_layout",
    "oci_archive_from_layout",
    "oci_layout_from_rootfs",
    "require_tools",
    "to_oci_layout",
    "tree_of_rootfs",
    "tree_of_tar",
    "umoci_unpack",
]

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# Bump when the way a cached entry is made changes, so stale caches are not reused.
_ROOTFS_VERSION = "1"
_LAYOUT_VERSION = "1"
_PACKAGES_MARKER = "packages.txt"
# debootstrap log lines that mean "no route to the mirror", not a broken build
_NETWORK_HINTS = (
    "Failed getting release file",
    "Temporary failure resolving",
    "Could not resolve",
    "Network is unreachable",
    "Connection refused",
    "Connection timed out",
    "Couldn't download",
    "Couldn't get",
    "Failed to fetch",
)


class BuildUnavailable(Exception):
    """This machine cannot build the image (missing tool, no network, not root)."""


class BuildError(RuntimeError):
    """A build tool failed for a reason other than the environment."""


def cache_dir() -> Path:
    root = os.environ.get("CUSTOMHOUSE_TEST_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "customhouse-tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise BuildUnavailable(
            f"{', '.join(missing)} not installed (apt-get install {' '.join(missing)})"
        )


def _run(cmd: Sequence[str | os.PathLike[str]], *, what: str | None = None) -> str:
    args = [os.fspath(c) for c in cmd]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(
            f"{what or args[0]} failed (exit {proc.returncode}): {' '.join(args)}\n"
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc.stdout


@contextmanager
def _staging(final: Path) -> Iterator[Path]:
    """A fresh directory beside ``final``; renamed onto ``final`` when the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
        try:
            tmp.rename(final)
        except OSError:
            if not final.exists():  # lost a race with a concurrent builder: theirs is as good
                raise
    finally:
        if tmp.exists():
            _remove_tree(tmp)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def _remove_tree(path: Path) -> None:
    """rmtree, after unmounting anything a failed debootstrap left mounted inside."""
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if _mounts_under(path):
        raise BuildError(f"{path} still has mounts inside; not removing it")
    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- Debian


def _empty_dir(path: Path) -> None:
    if not path.is_dir() or path.is_symlink():
        return
    if _mounts_under(path) or any(p == str(path.resolve()) for p in _mounts_under(path.parent)):
        raise BuildError(f"{path} is a mount point or has mounts inside; refusing to empty it")
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _finish_rootfs(rootfs: Path) -> None:
    """Make a debootstrap tree look like Docker's official debian image."""
    for name in ("dev", "proc", "sys"):  # device nodes must not ship in images
        _empty_dir(rootfs / name)
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def _package_list(rootfs: Path) -> str:
    """``name version`` per installed package, from dpkg's status file."""
    rows = []
    status = (rootfs / "var/lib/dpkg/status").read_text(encoding="utf-8")
    for para in status.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in para.splitlines() if ": " in line and line[0] != " "
        )
        if "Package" in fields and "installed" in fields.get("Status", ""):
            rows.append(f"{fields['Package']} {fields.get('Version', '?')}")
    return "\n".join(sorted(rows)) + "\n"


def _debootstrap(target: Path, include: Sequence[str] = ()) -> None:
    """``debootstrap --variant=minbase [--include=…]``; no network is a skip, anything else an error."""
    require_tools("debootstrap")
    if os.geteuid() != 0:
        raise BuildUnavailable("debootstrap needs root")
    extra = [f"--include={','.join(include)}"] if include else []
    proc = subprocess.run(
        ["debootstrap", "--variant=minbase", *extra, DEBIAN_SUITE, str(target), DEBIAN_MIRROR],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == 0:
        return
    log = target / "debootstrap" / "debootstrap.log"
    text = proc.stdout + proc.stderr + (log.read_text(errors="replace") if log.exists() else "")
    tail = "\n".join(text.strip().splitlines()[-15:])
    if any(hint in text for hint in _NETWORK_HINTS):
        raise BuildUnavailable(f"debootstrap cannot reach {DEBIAN_MIRROR}:\n{tail}")
    raise BuildError(f"debootstrap failed (exit {proc.returncode}):\n{tail}")


def debian_rootfs() -> Path:
    """A Debian bookworm minbase root filesystem (cached; built with debootstrap when absent).

    ``dev/``, ``proc/`` and ``sys/`` are empty and the downloaded ``.deb`` files are gone,
    as in Docker's official debian image. The package list sits beside the tree in
    ``packages.txt``.
    """
    entry = cache_dir() / f"debian-{DEBIAN_SUITE}-minbase-v{_ROOTFS_VERSION}"
    if (entry / _PACKAGES_MARKER).is_file():
        return entry / "rootfs"
    with _staging(entry) as tmp:
        rootfs = tmp / "rootfs"
        _debootstrap(rootfs)
        _finish_rootfs(rootfs)
        (tmp / _PACKAGES_MARKER).write_text(_package_list(rootfs), encoding="utf-8")
    return entry / "rootfs"


def debian_layout() -> tuple[Path, str]:
    """The Debian minbase rootfs as a one-layer OCI layout (cached): ``(layout, tag)``."""
    rootfs = debian_rootfs()
    marker = (rootfs.parent / _PACKAGES_MARKER).read_bytes()
    key = hashlib.sha256(marker + _LAYOUT_VERSION.encode()).hexdigest()[:12]
    entry = cache_dir() / f"debian-{DEBIAN_SUITE}-minbase-oci-{key}"
    tag = DEBIAN_SUITE
    if (entry / "index.json").is_file():
        return entry, tag
    with _staging(entry) as tmp:
        layout = tmp / "layout"
        oci_layout_from_rootfs(rootfs, layout, tag, cmd=("bash",))
        for child in layout.iterdir():
            child.rename(tmp / child.name)
        layout.rmdir()
    return entry, tag


# --------------------------------------------------------------------------- umoci


def _umoci_image(layout: Path, tag: str) -> str:
    return f"{layout}:{tag}"


def _new_image(layout: Path, tag: str) -> None:
    require_tools("umoci")
    if not (layout / "index.json").exists():
        _run(["umoci", "init", "--layout", layout])
    _run(["umoci", "new", "--image", _umoci_image(layout, tag)])


def _configure(layout: Path, tag: str, cmd: Sequence[str] | None) -> None:
    args: list[str | os.PathLike[str]] = ["umoci", "config", "--image", _umoci_image(layout, tag)]
    args += ["--os", "linux", "--architecture", "amd64"]
    for part in cmd or ():
        args += ["--config.cmd", part]
    _run(args)


@contextmanager
def _bundle(layout: Path, tag: str) -> Iterator[Path]:
    """``umoci unpack`` the image into a temporary bundle; yields the bundle directory."""
    parent = Path(tempfile.mkdtemp(prefix="customhouse-bundle-"))
    try:
        bundle = parent / "bundle"
        _run(["umoci", "unpack", "--image", _umoci_image(layout, tag), bundle])
        yield bundle
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _repack(layout: Path, tag: str, bundle: Path) -> None:
    _run(["umoci", "repack", "--image", _umoci_image(layout, tag), bundle])


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy a tree keeping owners, modes, symlinks, hardlinks and timestamps."""
    _run(["cp", "-a", "--", f"{src}/.", f"{dst}/"], what="cp -a")


def oci_layout_from_rootfs(
    rootfs: Path, layout_dir: Path, tag: str, *, cmd: Sequence[str] | None = None
) -> None:
    """Add ``tag`` to ``layout_dir`` (created if needed): one layer holding ``rootfs``."""
    _new_image(layout_dir, tag)
    with _bundle(layout_dir, tag) as bundle:
        _copy_tree(rootfs, bundle / "rootfs")
        _repack(layout_dir, tag, bundle)
    _configure(layout_dir, tag, cmd)


def alpine_layout(tarball: Path, layout_dir: Path, tag: str) -> None:
    """An Alpine minirootfs tarball as a one-layer image (``FROM scratch``, ``ADD``, ``CMD sh``)."""
    _new_image(layout_dir, tag)
    with _bundle(layout_dir, tag) as bundle:
        _run(
            ["tar", "-xpzf", tarball, "-C", bundle / "rootfs", "--numeric-owner"],
            what="tar -x",
        )
        _repack(layout_dir, tag, bundle)
    _configure(layout_dir, tag, ("/bin/sh",))


# --------------------------------------------------------------------------- multi-layer


def _modify_for_layer1(root: Path) -> None:
    """Changes that ``umoci repack`` turns into a layer (whiteouts for removed files)."""
    (root / "etc/motd").unlink()  # deleted file -> .wh.motd
    shutil.rmtree(root / "etc/apk/keys")  # deleted directory -> whiteouts
    (root / "etc/issue").write_bytes(b"customhouse multi-layer test image\n")  # overwritten
    data = root / "data"
    data.mkdir(mode=0o750)
    os.chown(data, 0, 1000)
    (data / "orig").write_bytes(b"layer 1 bytes of orig\n")
    os.link(data / "orig", data / "link-to-orig")  # hardlink pair in one layer
    (data / "keep").write_bytes(b"keep me\n")
    os.link(data / "keep", data / "keep-link")
    (data / "rel-symlink").symlink_to("orig")
    (data / "abs-symlink").symlink_to("/etc/os-release")
    (data / "dangling").symlink_to("../nowhere/at/all")
    (data / "replaced-dir").mkdir()
    for name in ("a", "b", "c"):
        (data / "replaced-dir" / name).write_bytes(f"lower {name}\n".encode())
    (data / "replaced-dir" / "sub").mkdir()
    (data / "replaced-dir" / "sub" / "deep").write_bytes(b"deep\n")
    suid = data / "suid-tool"
    suid.write_bytes(b"#!/bin/sh\necho hi\n")
    os.chown(suid, 1000, 1000)
    os.chmod(suid, 0o4755)
    os.mkfifo(data / "fifo", 0o640)


def _member(
    name: str,
    kind: bytes = tarfile.REGTYPE,
    *,
    data: bytes = b"",
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    link: str = "",
) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.mtime = 1_700_000_000
    ti.linkname = link
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    return ti, data


def _layer2_members() -> list[tuple[tarfile.TarInfo, bytes]]:
    """A hand-made layer: opaque dir, whiteouts, replacements, hardlinks and symlinks."""
    d, f, h, s = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE
    return [
        _member("data/", d, mode=0o755, gid=1000),  # same dir again, new mode
        # opaque directory: everything below from lower layers disappears
        _member("data/replaced-dir/", d, mode=0o700, uid=1000, gid=1000),
        _member("data/replaced-dir/.wh..wh..opq", f),
        _member("data/replaced-dir/b", f, data=b"upper b\n", mode=0o600),
        # whiteouts of a file and of a whole lower directory
        _member("data/.wh.keep", f),
        _member("etc/.wh.apk", f),
        _member("etc/apk/", d, mode=0o755),  # recreated empty after the whiteout
        _member("etc/apk/world", f, data=b"new-world\n"),
        # overwrite the target of a lower hardlink: the lower link keeps the old bytes
        _member("data/orig", f, data=b"layer 2 replaced orig\n", mode=0o640),
        # hardlinks within this layer, and to a file only a lower layer has
        _member("data/new", f, data=b"new file in layer 2\n", mode=0o755, uid=1000),
        _member("data/new-link", h, link="data/new"),
        _member("data/lower-link", h, link="etc/alpine-release"),
        # a file replacing a directory, and a directory replacing a file
        _member("srv", f, data=b"srv is a file now\n"),
        _member("etc/hostname/", d, mode=0o711),
        _member("etc/hostname/inside", f, data=b"inside\n"),
        # a symlink replacing a file, and a symlink retargeted
        _member("etc/issue", s, link="/data/new"),
        _member("data/rel-symlink", s, link="new"),
        _member("data/empty", f, mode=0o400, uid=65534, gid=65534),
    ]


def _write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)


def multilayer_layout(base_tarball: Path, layout_dir: Path, tag: str) -> None:
    """Three layers over an Alpine base, exercising whiteouts across layers.

    0. the Alpine minirootfs;
    1. ``umoci repack`` of changes: deleted file and directory (whiteouts), overwritten
       file, hardlinks, relative/absolute/dangling symlinks, setuid file, FIFO;
    2. a hand-written tar (``umoci raw add-layer``): an opaque directory, whiteouts, a
       replaced hardlink target, hardlinks inside the layer and to a lower layer's file,
       a file replacing a directory and the reverse, symlinks replacing files.
    """
    alpine_layout(base_tarball, layout_dir, tag)
    with _bundle(layout_dir, tag) as bundle:
        _modify_for_layer1(bundle / "rootfs")
        _repack(layout_dir, tag, bundle)
    with tempfile.TemporaryDirectory(prefix="customhouse-layer-") as tmp:
        layer = Path(tmp) / "layer2.tar"
        _write_tar(layer, _layer2_members())
        _run(["umoci", "raw", "add-layer", "--image", _umoci_image(layout_dir, tag), layer])
    _configure(layout_dir, tag, ("/bin/sh",))


# --------------------------------------------------------------------------- skopeo


def _skopeo_copy(src: str, dst: str, *options: str) -> None:
    require_tools("skopeo")
    _run(["skopeo", "copy", "--quiet", *options, src, dst], what="skopeo copy")


def docker_archive_from_layout(
    layout: Path, tag: str, out_tar: Path, *, name: str = "customhouse-test/image"
) -> None:
    """``docker save``-style archive of ``oci:layout:tag`` (legacy format, as skopeo writes it)."""
    out_tar.unlink(missing_ok=True)
    _skopeo_copy(f"oci:{layout}:{tag}", f"docker-archive:{out_tar}:{name}:{tag}")


def oci_archive_from_layout(layout: Path, tag: str, out_tar: Path) -> None:
    out_tar.unlink(missing_ok=True)
    _skopeo_copy(f"oci:{layout}:{tag}", f"oci-archive:{out_tar}:{tag}")


def to_oci_layout(source: str, layout_dir: Path, tag: str) -> None:
    """Copy any skopeo source (``docker-archive:…``, ``oci:…``) into an OCI layout.

    Docker schema 2 manifests are converted to OCI ones (umoci reads only those). An
    ``oci:`` source goes through skopeo's ``dir:`` transport first, because one whose
    index calls a Docker manifest an OCI one would otherwise be copied unconverted.
    (Archives go direct: skopeo 1.9 cannot copy ``test_link.tar``'s symlinked layer to
    ``dir:``.)
    """
    dest = f"oci:{layout_dir}:{tag}"
    if not source.startswith("oci:"):
        _skopeo_copy(source, dest, "--format", "oci")
        return
    with tempfile.TemporaryDirectory(prefix="customhouse-skopeo-") as tmp:
        _skopeo_copy(source, f"dir:{tmp}/image")
        _skopeo_copy(f"dir:{tmp}/image", dest, "--format", "oci")


def umoci_unpack(layout: Path, tag: str, bundle: Path) -> Path:
    """The reference unpacking: ``umoci unpack``; returns the bundle's ``rootfs``."""
    require_tools("umoci")
    _run(["umoci", "unpack", "--image", _umoci_image(layout, tag), bundle])
    return bundle / "rootfs"


def layout_layer_blobs(layout: Path, tag: str) -> list[Path]:
    """Blob paths of the layers of ``tag`` in an OCI layout (bottom first)."""
    index = json.loads((layout / "index.json").read_text())
    for desc in index.get("manifests") or ():
        if (desc.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag:
            manifest = json.loads(_blob(layout, desc["digest"]).read_text())
            return [_blob(layout, layer["digest"]) for layer in manifest["layers"]]
    raise KeyError(f"{layout} has no image tagged {tag!r}")


def _blob(layout: Path, digest: str) -> Path:
    algo, _, hexpart = digest.partition(":")
    return layout / "blobs" / algo / hexpart


# --------------------------------------------------------------------------- factory

ALPINE_VERSIONS = ("3.14.10", "3.19.4", "3.20.3")


class ImageFactory:
    """Builds each named test image at most once, under ``root``; thread-safe.

    Names: ``alpine-VERSION`` (needs ``shared``, the ../shared directory), ``multilayer``
    (likewise), ``debian`` (from the cache).
    """

    def __init__(self, root: Path, shared: Path | None = None) -> None:
        self.root = root
        self.shared = shared
        self._made: dict[str, tuple[Path, str]] = {}
        self._lock = threading.Lock()

    def _once(self, key: str, build: Callable[[Path], tuple[Path, str]]) -> tuple[Path, str]:
        with self._lock:
            if key not in self._made:
                self._made[key] = build(self.root / key)
            return self._made[key]

    def alpine_tarball(self, version: str) -> Path:
        if self.shared is None:
            raise BuildUnavailable("the Alpine fixtures (../shared) are not available")
        return self.shared / "fixtures" / "alpine" / f"alpine-minirootfs-{version}-x86_64.tar.gz"

    def layout(self, name: str) -> tuple[Path, str]:
        """``(layout dir, tag)`` of a named image."""

        def build(where: Path) -> tuple[Path, str]:
            if name == "debian":
                return debian_layout()
            if name.startswith("alpine-"):
                alpine_layout(self.alpine_tarball(name.removeprefix("alpine-")), where, "test")
            elif name == "multilayer":
                multilayer_layout(self.alpine_tarball("3.20.3"), where, "test")
            else:
                raise KeyError(name)
            return where, "test"

        return self._once(f"layout-{name}", build)

    def archive(self, name: str, transport: str) -> Path:
        """The named image as a ``docker-archive`` or ``oci-archive`` tar."""
        layout, tag = self.layout(name)

        def build(where: Path) -> tuple[Path, str]:
            where.mkdir(parents=True)
            out = where / "image.tar"
            if transport == "docker-archive":
                docker_archive_from_layout(layout, tag, out)
            else:
                oci_archive_from_layout(layout, tag, out)
            return out, tag

        return self._once(f"{transport}-{name}", build)[0]


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True, slots=True)
class FsNode:
    """What an extracted file-system entry looks like, for comparing two unpackings.

    ``mode`` is ``mode & 0o7777`` (None for symlinks, whose mode Linux ignores);
    ``detail`` is the target of a symlink, the sha256 of a regular file's bytes, or None.
    A hardlink is recorded as the regular file it names.
    """

    kind: str
    mode: int | None
    uid: int
    gid: int
    detail: str | None = None

    def __str__(self) -> str:
        mode = "----" if self.mode is None else f"{self.mode:04o}"
        detail = "" if self.detail is None else f" {self.detail}"
        return f"{self.kind} {mode} {self.uid}:{self.gid}{detail}"


FsTree = dict[str, FsNode]
# What an extractor creates for a parent directory a tar does not list (umoci, GNU tar).
IMPLICIT_DIR = FsNode("dir", 0o755, 0, 0)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def tree_of_rootfs(root: Path) -> FsTree:
    """Describe an unpacked root filesystem (the root directory itself excluded)."""
    tree: FsTree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            st = full.lstat()
            rel = full.relative_to(root).as_posix()
            fmt = stat.S_IFMT(st.st_mode)
            perm = stat.S_IMODE(st.st_mode)
            if fmt == stat.S_IFLNK:
                tree[rel] = FsNode("symlink", None, st.st_uid, st.st_gid, os.readlink(full))
            elif fmt == stat.S_IFREG:
                tree[rel] = FsNode("file", perm, st.st_uid, st.st_gid, _sha256_file(full))
            elif fmt == stat.S_IFDIR:
                tree[rel] = FsNode("dir", perm, st.st_uid, st.st_gid)
            elif fmt == stat.S_IFIFO:
                tree[rel] = FsNode("fifo", perm, st.st_uid, st.st_gid)
            else:
                tree[rel] = FsNode(f"special-{fmt:o}", perm, st.st_uid, st.st_gid)
    return tree


def _tar_path(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


def tree_of_tar(path: Path) -> tuple[FsTree, list[str]]:
    """Describe a flattened-filesystem tar as it would extract; also return its problems.

    Problems are things no correct export contains: the same path twice, ``..`` or
    absolute names, hardlinks to a path not written before them, device nodes.
    """
    tree: FsTree = {}
    problems: list[str] = []
    with tarfile.open(path, "r:") as tf:
        for m in tf:
            rel = _tar_path(m.name)
            if m.name.startswith("/") or ".." in m.name.split("/"):
                problems.append(f"{m.name!r}: unsafe member name")
                continue
            if not rel:
                continue  # the root directory
            if rel in tree:
                problems.append(f"{rel!r}: appears more than once in the tar")
            if m.issym():
                tree[rel] = FsNode("symlink", None, m.uid, m.gid, m.linkname)
            elif m.islnk():
                target = tree.get(_tar_path(m.linkname))
                if target is None or target.kind != "file":
                    problems.append(f"{rel!r}: hardlink to {m.linkname!r}, not a file before it")
                    continue
                tree[rel] = target
            elif m.isreg():
                fobj = tf.extractfile(m)
                assert fobj is not None
                h = hashlib.sha256()
                while chunk := fobj.read(1 << 20):
                    h.update(chunk)
                tree[rel] = FsNode("file", m.mode & 0o7777, m.uid, m.gid, h.hexdigest())
            elif m.isdir():
                tree[rel] = FsNode("dir", m.mode & 0o7777, m.uid, m.gid)
            elif m.isfifo():
                tree[rel] = FsNode("fifo", m.mode & 0o7777, m.uid, m.gid)
            else:
                problems.append(f"{rel!r}: tar type {m.type!r} should not be in an image")
    for rel in list(tree):
        parts = rel.split("/")
        for i in range(1, len(parts)):
            tree.setdefault("/".join(parts[:i]), IMPLICIT_DIR)
    return tree, problems


def diff_trees(got: FsTree, want: FsTree, *, limit: int = 25) -> list[str]:
    """Readable differences between two trees, sorted by path; empty when they match."""
    out = []
    for path in sorted(got.keys() | want.keys()):
        g, w = got.get(path), want.get(path)
        if g == w:
            continue
        if g is None:
            out.append(f"missing from export: {path}  (reference: {w})")
        elif w is None:
            out.append(f"only in export:      {path}  ({g})")
        else:
            out.append(f"differs:             {path}  export: {g}  reference: {w}")
        if len(out) >= limit:
            out.append("… (more differences not shown)")
            break
    return out


# --------------------------------------------------------------------------- Debian, large

# A developer-style image: compilers, Python and Node, the -dev libraries of Docker's
# buildpack-deps and of GTK. debootstrap resolves the Depends of each --include, which
# brings it past 500 packages. Not npm nor libgtk-3-dev themselves: debootstrap cannot
# configure their dependency loops (node-gyp/node-npmlog, dconf).
DEBIAN_LARGE_PACKAGES = (
    "build-essential",
    "git",
    "curl",
    "wget",
    "ca-certificates",
    "openssh-client",
    "gnupg",
    "python3",
    "python3-pip",
    "python3-venv",
    "python3-dev",
    "libssl-dev",
    "libffi-dev",
    "zlib1g-dev",
    "libpq-dev",
    "libxml2-dev",
    "libxslt1-dev",
    "libjpeg-dev",
    "libpng-dev",
    "libsqlite3-dev",
    "libcurl4-openssl-dev",
    "nodejs",
    "vim-tiny",
    "less",
    "procps",
    "unzip",
    "xz-utils",
    "bzip2",
    "autoconf",
    "automake",
    "libtool",
    "pkg-config",
    "bison",
    "flex",
    "imagemagick",
    "libmagickwand-dev",
    "libglib2.0-dev",
    "default-libmysqlclient-dev",
    "libyaml-dev",
    "libreadline-dev",
    "libncurses-dev",
    "libbz2-dev",
    "liblzma-dev",
    "libgdbm-dev",
    "tk-dev",
    "uuid-dev",
    "mercurial",
    "subversion",
    "libkrb5-dev",
    "libldap2-dev",
    "libsasl2-dev",
    "libwebp-dev",
    "libtiff-dev",
    "libpango1.0-dev",
    "libgdk-pixbuf-2.0-dev",
    "libatk1.0-dev",
    "libepoxy-dev",
    "libxi-dev",
    "libxrandr-dev",
    "libxinerama-dev",
    "libxcursor-dev",
    "libxcomposite-dev",
    "libxdamage-dev",
    "libwayland-dev",
    "libxkbcommon-dev",
)
_LARGE_VERSION = "1"


def debian_large_layout() -> tuple[Path, str]:
    """Debian minbase plus :data:`DEBIAN_LARGE_PACKAGES` (500+ dpkg packages) as a one-layer
    OCI layout, cached like :func:`debian_layout`: ``(layout, tag)``.

    The package list sits beside the layout in ``packages.txt``; the rootfs is not kept.
    """
    key = hashlib.sha256(
        ",".join(DEBIAN_LARGE_PACKAGES).encode() + _LARGE_VERSION.encode()
    ).hexdigest()[:12]
    entry = cache_dir() / f"debian-{DEBIAN_SUITE}-large-oci-{key}"
    tag = DEBIAN_SUITE
    if (entry / "index.json").is_file() and (entry / _PACKAGES_MARKER).is_file():
        return entry, tag
    with _staging(entry) as tmp:
        rootfs = tmp / "rootfs"
        _debootstrap(rootfs, DEBIAN_LARGE_PACKAGES)
        _finish_rootfs(rootfs)
        packages = _package_list(rootfs)
        layout = tmp / "layout"
        oci_layout_from_rootfs(rootfs, layout, tag, cmd=("bash",))
        _remove_tree(rootfs)
        for child in layout.iterdir():
            child.rename(tmp / child.name)
        layout.rmdir()
        (tmp / _PACKAGES_MARKER).write_text(packages, encoding="utf-8")
    return entry, tag
