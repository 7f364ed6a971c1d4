"""Go binaries: the module build info that the Go linker embeds in ELF executables.

Since Go 1.13 the linker writes a 32-byte header, aligned to 16 bytes, at the start
of the ``.go.buildinfo`` section (or, without section headers, near the start of the
first writable data segment)::

    0   14 bytes  magic "\\xff Go buildinf:"
    14  1 byte    pointer size (4 or 8)
    15  1 byte    flags: bit 0 big-endian, bit 1 inline strings (Go >= 1.18)
    16  ...       Go < 1.18: two pointers, to the Go string headers (data pointer,
                  length) of runtime.buildVersion and runtime.modinfo; read through
                  the PT_LOAD program headers (virtual address -> file offset)
                  Go >= 1.18: two uvarint-length-prefixed strings, version then modinfo

The module info is wrapped in 16-byte sentinels and holds tab-separated lines
(``path``, ``mod``, ``dep``, ``=>`` for the replacement of the line above, ``build``
for build settings). The format is documented by Go's ``debug/buildinfo`` and
``runtime/debug.BuildInfo.String`` (facts only; this reader is our own).

Every executable file is offered to this cataloger (Go binaries can live anywhere),
so :meth:`GoBinaryCataloger.parse` bails out after the ELF magic, the section table
or one 64 KiB scan of the data segment for anything that is not a Go binary.
"""

from __future__ import annotations

import ast
import re
import struct
from dataclasses import dataclass, field

from customhouse.catalog.interface import GOLANG, FileResult, Package, Wants
from customhouse.catalog.purl import PurlError, purl

__all__ = ["BuildInfo", "GoBinaryCataloger", "GoBuildInfoError", "Module", "read_build_info"]

_MiB = 1024 * 1024
_MAGIC = b"\xff Go buildinf:"
_HEADER = 32
_ALIGN = 16
_SCAN = 64 * 1024  # how far into the data segment the header is looked for
_MAX_VERSION = 1024
_MAX_MODINFO = 16 * _MiB
_MAX_BUILD_SETTINGS = 128
_PT_LOAD = 1
_PF_X = 1
_PF_W = 2
_SHT_NOBITS = 8


class GoBuildInfoError(ValueError):
    """The build info of a Go binary is present but cannot be read."""


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    version: str
    sum: str = ""
    replace: Module | None = None


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """What ``go version -m`` prints: toolchain, main package/module, deps, settings."""

    go_version: str
    path: str = ""  # the main package's import path
    main: Module | None = None
    deps: tuple[Module, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()
    #: problems found while reading that did not stop it
    problems: tuple[str, ...] = field(default=())


# --- ELF ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    vaddr: int
    offset: int
    filesz: int
    flags: int


class _Elf:
    """Just enough of an ELF file: section headers by name and PT_LOAD segments."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        if len(data) < 52:
            raise GoBuildInfoError("truncated ELF header")
        cls, enc = data[4], data[5]
        if cls not in (1, 2) or enc not in (1, 2):
            raise GoBuildInfoError(f"unknown ELF class {cls} or data encoding {enc}")
        self.wide = cls == 2
        self.end = "<" if enc == 1 else ">"
        e = self.end
        if self.wide:
            if len(data) < 64:
                raise GoBuildInfoError("truncated ELF header")
            phoff, shoff = struct.unpack_from(e + "QQ", data, 0x20)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "5H", data, 0x36)
        else:
            phoff, shoff = struct.unpack_from(e + "II", data, 0x1C)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "5H", data, 0x2A)
        self.segments = self._segments(phoff, phentsize, phnum)
        self._shoff, self._shentsize, self._shnum, self._shstrndx = (
            shoff,
            shentsize,
            shnum,
            shstrndx,
        )

    def _segments(self, phoff: int, phentsize: int, phnum: int) -> list[_Segment]:
        need = 56 if self.wide else 32
        if phnum == 0:
            return []
        if phentsize < need or phoff + phentsize * phnum > len(self.data):
            raise GoBuildInfoError("program header table is truncated or malformed")
        out = []
        e = self.end
        for i in range(phnum):
            at = phoff + i * phentsize
            if self.wide:
                ptype, flags, off, vaddr, _paddr, filesz = struct.unpack_from(
                    e + "IIQQQQ", self.data, at
                )
            else:
                ptype, off, vaddr, _paddr, filesz, _memsz, flags = struct.unpack_from(
                    e + "7I", self.data, at
                )
            if ptype == _PT_LOAD:
                out.append(_Segment(vaddr, off, filesz, flags))
        return out

    def _section_header(self, index: int) -> tuple[int, int, int, int, int, int]:
        """(name, type, addr, offset, size, link) of section ``index``."""
        e = self.end
        at = self._shoff + index * self._shentsize
        if self.wide:
            name, stype, _flags, addr, off, size, link = struct.unpack_from(
                e + "IIQQQQI", self.data, at
            )
        else:
            name, stype, _flags, addr, off, size, link = struct.unpack_from(e + "7I", self.data, at)
        return name, stype, addr, off, size, link

    def section(self, wanted: bytes) -> tuple[bool, tuple[int, int] | None]:
        """Whether a readable section table exists; (file offset, size) of ``wanted`` in it."""
        if self._shoff == 0 or self._shoff >= len(self.data):
            return False, None
        need = 64 if self.wide else 40
        if self._shentsize < need:
            return False, None
        shnum, shstrndx = self._shnum, self._shstrndx
        if shnum == 0 or shstrndx == 0xFFFF:  # extended numbering: kept in section 0
            if self._shoff + need > len(self.data):
                return False, None
            _n, _t, _a, _o, size0, link0 = self._section_header(0)
            shnum = shnum or size0
            if shstrndx == 0xFFFF:
                shstrndx = link0
        if shnum == 0 or self._shoff + shnum * self._shentsize > len(self.data):
            return False, None
        if shstrndx >= shnum:
            return False, None
        _n, _t, _a, stroff, strsize, _l = self._section_header(shstrndx)
        if stroff + strsize > len(self.data):
            return False, None
        names = self.data[stroff : stroff + strsize]
        key = wanted + b"\0"
        if key not in names:  # the common answer, without walking the table
            return True, None
        for i in range(shnum):
            name, stype, _addr, off, size, _link = self._section_header(i)
            if names[name : name + len(key)] == key:
                return True, (None if stype == _SHT_NOBITS else (off, size))
        return True, None

    def data_segment(self) -> _Segment | None:
        """The first writable, not executable, PT_LOAD segment (where Go puts the header)."""
        for seg in self.segments:
            if seg.flags & (_PF_X | _PF_W) == _PF_W:
                return seg
        return None

    def read(self, vaddr: int, size: int) -> bytes:
        """``size`` bytes at virtual address ``vaddr``, from the file bytes of a segment."""
        for seg in self.segments:
            if seg.vaddr <= vaddr and vaddr + size <= seg.vaddr + seg.filesz:
                start = seg.offset + (vaddr - seg.vaddr)
                out = self.data[start : start + size]
                if len(out) == size:
                    return out
                break
        raise GoBuildInfoError(f"address {vaddr:#x} (+{size}) is not in the file's data")


# --- build info ---------------------------------------------------------------------


def _find_header(elf: _Elf) -> int | None:
    """File offset of the build info header, or None for a binary that is not Go's."""
    data = elf.data
    has_table, sect = elf.section(b".go.buildinfo")
    if sect is not None:
        off, _size = sect
        if data[off : off + len(_MAGIC)] == _MAGIC:
            return off
        raise GoBuildInfoError(".go.buildinfo section does not start with the build info magic")
    if has_table:
        return None  # the Go linker always names the section: not a Go binary
    # no section headers (sstrip): the header is near the start of the data segment
    seg = elf.data_segment()
    if seg is None:
        return None
    start = seg.offset
    window = data[start : start + min(seg.filesz, _SCAN)]
    at = window.find(_MAGIC)
    while at >= 0:
        if at % _ALIGN == 0:
            return start + at
        at = window.find(_MAGIC, at + 1)
    return None


def _uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(at, min(at + 10, len(data))):
        b = data[i]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i + 1
        shift += 7
    raise GoBuildInfoError(f"bad or truncated length varint at offset {at}")


def _inline_strings(data: bytes, at: int) -> tuple[bytes, bytes]:
    n, at = _uvarint(data, at)
    if n > _MAX_VERSION or at + n > len(data):
        raise GoBuildInfoError(f"Go version string of {n} bytes runs past the data")
    version = data[at : at + n]
    at += n
    n, at = _uvarint(data, at)
    if n > _MAX_MODINFO or at + n > len(data):
        raise GoBuildInfoError(f"module info of {n} bytes runs past the data")
    return version, data[at : at + n]


def _pointed_strings(elf: _Elf, header: bytes, ptr_size: int, end: str) -> tuple[bytes, bytes]:
    fmt = end + ("Q" if ptr_size == 8 else "I")

    def go_string(ptr: int, limit: int, what: str) -> bytes:
        hdr = elf.read(ptr, 2 * ptr_size)
        (addr,) = struct.unpack_from(fmt, hdr, 0)
        (length,) = struct.unpack_from(fmt, hdr, ptr_size)
        if length == 0:
            return b""
        if length > limit:
            raise GoBuildInfoError(f"{what} claims {length} bytes")
        return elf.read(addr, length)

    (version_ptr,) = struct.unpack_from(fmt, header, 16)
    (modinfo_ptr,) = struct.unpack_from(fmt, header, 16 + ptr_size)
    return (
        go_string(version_ptr, _MAX_VERSION, "Go version string"),
        go_string(modinfo_ptr, _MAX_MODINFO, "module info"),
    )


def read_build_info(data: bytes) -> BuildInfo | None:
    """The build info of the ELF file ``data``; None if it is not a Go binary.

    Raise :class:`GoBuildInfoError` when it is a Go binary whose build info is garbled.
    """
    if data[:4] != b"\x7fELF":
        return None
    try:
        try:
            elf = _Elf(data)
        except (GoBuildInfoError, struct.error):
            if _MAGIC not in data:
                return None  # a malformed ELF file, but not a Go binary: none of our business
            raise
        at = _find_header(elf)
        if at is None:
            return None
        header = data[at : at + _HEADER]
        if len(header) < _HEADER:
            raise GoBuildInfoError("build info header is truncated")
        ptr_size, flags = header[14], header[15]
        if ptr_size not in (4, 8):
            raise GoBuildInfoError(f"unsupported pointer size {ptr_size}")
        if flags & 2:
            raw_version, raw_mod = _inline_strings(data, at + _HEADER)
        else:
            raw_version, raw_mod = _pointed_strings(
                elf, header, ptr_size, ">" if flags & 1 else "<"
            )
    except struct.error as e:
        raise GoBuildInfoError(f"truncated ELF structure: {e}") from e
    try:
        version = raw_version.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GoBuildInfoError(f"Go version string is not UTF-8 ({e.reason})") from e
    if not (version.startswith("go") or version.startswith("devel")) or not version.isprintable():
        raise GoBuildInfoError(f"Go version string {version[:40]!r} is not a Go version")
    problems: list[str] = []
    mod = b""
    if raw_mod:
        if len(raw_mod) >= 33 and raw_mod[-17] == 0x0A:
            mod = raw_mod[16:-16]
        else:
            problems.append("module info lacks its sentinel markers; modules not read")
    try:
        text = mod.decode("utf-8")
    except UnicodeDecodeError as e:
        problems.append(f"module info is not UTF-8 at byte {e.start}; decoded with replacement")
        text = mod.decode("utf-8", "replace")
    return _parse_modinfo(version, text, problems)


# one double-quoted literal, nothing around it: literal_eval of anything else, such as
# '"", 1, 1, ..., ""', built a tuple (2 MB of it: 970 MB)
_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"', re.S)


def _unquote(text: str) -> str:
    """A build setting's key or value, unquoted if Go quoted it (strconv.Quote)."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"' and _QUOTED.fullmatch(text):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text
        if isinstance(value, str):
            return value
    return text


def _split_setting(rest: str) -> tuple[str, str]:
    if rest.startswith('"'):  # a quoted key: find its closing quote
        i = 1
        while i < len(rest):
            if rest[i] == "\\":
                i += 2
                continue
            if rest[i] == '"':
                break
            i += 1
        key, value = rest[: i + 1], rest[i + 2 :]
    else:
        key, _, value = rest.partition("=")
    return _unquote(key), _unquote(value)


def _parse_modinfo(version: str, text: str, problems: list[str]) -> BuildInfo:
    path = ""
    main: Module | None = None
    deps: list[Module] = []
    settings: list[tuple[str, str]] = []
    last: str | None = None  # "main" or "dep": what a "=>" line replaces
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if kind == "path":
            path = rest
            last = None
        elif kind in ("mod", "dep"):
            if len(fields) < 2 or not fields[0]:
                problems.append(f"module info line {lineno}: malformed {kind} line")
                last = None
                continue
            m = Module(fields[0], fields[1], fields[2] if len(fields) > 2 else "")
            if kind == "mod":
                main, last = m, "main"
            else:
                deps.append(m)
                last = "dep"
        elif kind == "=>":
            if last is None or not fields[0]:
                problems.append(f"module info line {lineno}: replacement without a module")
                continue
            repl = Module(
                fields[0],
                fields[1] if len(fields) > 1 else "",
                fields[2] if len(fields) > 2 else "",
            )
            if last == "main" and main is not None:
                main = Module(main.path, main.version, main.sum, repl)
            else:
                d = deps[-1]
                deps[-1] = Module(d.path, d.version, d.sum, repl)
            last = None
        elif kind == "build":
            if len(settings) < _MAX_BUILD_SETTINGS:
                settings.append(_split_setting(rest))
            last = None
        else:
            problems.append(f"module info line {lineno}: unknown line kind {kind[:20]!r}")
            last = None
    return BuildInfo(
        go_version=version,
        path=path,
        main=main,
        deps=tuple(deps),
        settings=tuple(settings),
        problems=tuple(problems),
    )


# --- packages -----------------------------------------------------------------------


def _is_local(path: str) -> bool:
    """A replacement by a directory rather than a module (``./x``, ``../x``, ``/x``)."""
    return path.startswith(("./", "../", "/")) or path in (".", "..")


def _go_purl(name: str, version: str) -> str:
    namespace, _, last = name.rpartition("/")
    return purl(GOLANG, last, version, namespace=namespace or None)


def stdlib_version(go_version: str) -> str:
    """``go1.21.5`` -> ``1.21.5``; ``go1.22.0 X:boringcrypto`` -> ``1.22.0``; devel kept."""
    head = go_version.split(" ", 1)[0]
    if head.startswith("go") and head[2:3].isdigit():
        return head[2:]
    return go_version


_LDFLAGS_X = re.compile(r"-X[= ]['\"]?([\w./-]+)=['\"]?([^\s'\"]+)")
_VERSION_VARS = frozenset(
    {"version", "ver", "gitversion", "buildversion", "appversion", "releaseversion"}
)
_VERSION_VALUE = re.compile(r"v?\d+(\.\d+)+([-+.][0-9A-Za-z.+-]*)?")


def _ldflags_version(ldflags: str) -> str:
    """A release version set with ``-X pkg.version=1.2.3`` at link time, or ""."""
    for m in _LDFLAGS_X.finditer(ldflags):
        var, value = m.group(1), m.group(2)
        if var.rsplit(".", 1)[-1].lower() in _VERSION_VARS and _VERSION_VALUE.fullmatch(value):
            return value
    return ""


class GoBinaryCataloger:
    name = "go-binary"
    version = 2  # 2: build settings unquote one Go string only
    max_bytes = 512 * _MiB
    wants = Wants(executables=True)

    def match(self, path: str, mode: int, size: int) -> bool:
        return bool(mode & 0o111) and 1024 <= size <= self.max_bytes

    def parse(self, path: str, data: bytes) -> FileResult:
        try:
            info = read_build_info(data)
        except GoBuildInfoError as e:
            return FileResult(warnings=[f"{path}: Go build info is garbled: {e}"])
        if info is None:
            return FileResult()
        warnings = [f"{path}: Go build info: {p}" for p in info.problems]
        settings = dict(info.settings)
        arch = settings.get("GOARCH") or None
        base_extra = {"go_version": info.go_version}
        packages: list[Package] = []

        def add(kind: str, name: str, version: str, extra: dict[str, str]) -> None:
            try:
                url = _go_purl(name, version)
            except PurlError as e:
                warnings.append(f"{path}: Go module {name!r}: {e}")
                return
            packages.append(
                Package(
                    ecosystem=GOLANG,
                    name=name,
                    version=version,
                    purl=url,
                    path=path,
                    arch=arch,
                    extra={"kind": kind, **base_extra, **extra},
                )
            )

        std_extra: dict[str, str] = {}
        if not stdlib_version(info.go_version)[:1].isdigit():
            std_extra["devel"] = "true"
        if " " in info.go_version:
            std_extra["go_experiments"] = info.go_version.split(" ", 1)[1]
        add("stdlib", "stdlib", stdlib_version(info.go_version), std_extra)
        if info.main is not None:
            extra = {"main_package": info.path} if info.path else {}
            extra.update({f"build:{k}": v for k, v in info.settings})
            name, version = info.main.path, info.main.version
            if version == "(devel)" or not version:
                extra["devel"] = "true"
                guess = _ldflags_version(settings.get("-ldflags", ""))
                if guess:
                    extra["ldflags_version"] = guess
            if info.main.sum:
                extra["sum"] = info.main.sum
            add("main", name, version, extra)
        for dep in info.deps:
            extra = {"sum": dep.sum} if dep.sum else {}
            name, version = dep.path, dep.version
            if dep.replace is not None:
                extra["replaced"] = f"{dep.path}@{dep.version}"
                if _is_local(dep.replace.path):
                    # a local directory stands in: the code is that module's, at no release
                    extra["replaced_by_directory"] = dep.replace.path
                else:
                    name, version = dep.replace.path, dep.replace.version
                    extra["sum"] = dep.replace.sum
                    if not extra["sum"]:
                        del extra["sum"]
            add("dep", name, version, extra)
        return FileResult(packages=packages, warnings=warnings)
