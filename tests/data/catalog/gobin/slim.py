"""Keep only the bytes of a Go ELF binary that locate and hold its build info; zero the rest.

Usage: python slim.py BINARY OUT.gz

Kept at their original offsets: the ELF header, the program and section header
tables, the section name table, the ``.go.buildinfo`` section and, for the
pointer-based format of Go < 1.18, the Go string headers it points at and the
string bytes (found through the PT_LOAD segments). Everything else is zeros, so
the gzip of the result is small while every structure a reader walks is real.
"""

from __future__ import annotations

import gzip
import struct
import sys


def slim(data: bytes) -> bytes:
    wide = data[4] == 2
    e = "<" if data[5] == 1 else ">"
    keep: list[tuple[int, int]] = []
    if wide:
        phoff, shoff = struct.unpack_from(e + "QQ", data, 0x20)
        ehsize, phent, phnum, shent, shnum, shstrndx = struct.unpack_from(e + "6H", data, 0x34)
    else:
        phoff, shoff = struct.unpack_from(e + "II", data, 0x1C)
        ehsize, phent, phnum, shent, shnum, shstrndx = struct.unpack_from(e + "6H", data, 0x28)
    keep += [(0, ehsize), (phoff, phent * phnum), (shoff, shent * shnum)]
    loads = []
    for i in range(phnum):
        at = phoff + i * phent
        if wide:
            ptype, _fl, off, vaddr, _pa, filesz = struct.unpack_from(e + "IIQQQQ", data, at)
        else:
            ptype, off, vaddr, _pa, filesz = struct.unpack_from(e + "5I", data, at)
        if ptype == 1:
            loads.append((vaddr, off, filesz))

    def section(i: int) -> tuple[int, int, int]:
        at = shoff + i * shent
        if wide:
            name, _t, _f, _a, off, size = struct.unpack_from(e + "IIQQQQ", data, at)
        else:
            name, _t, _f, _a, off, size = struct.unpack_from(e + "6I", data, at)
        return name, off, size

    _n, stroff, strsize = section(shstrndx)
    keep.append((stroff, strsize))
    names = data[stroff : stroff + strsize]
    bi = None
    for i in range(shnum):
        name, off, size = section(i)
        if names[name:].startswith(b".go.buildinfo\0"):
            keep.append((off, size))
            bi = off
    assert bi is not None, "no .go.buildinfo section"

    def file_offset(vaddr: int) -> int:
        for va, off, filesz in loads:
            if va <= vaddr < va + filesz:
                return off + vaddr - va
        raise ValueError(hex(vaddr))

    ptr, flags = data[bi + 14], data[bi + 15]
    if not flags & 2:
        pe = (">" if flags & 1 else "<") + ("Q" if ptr == 8 else "I")
        for k in (0, 1):
            (hdr,) = struct.unpack_from(pe, data, bi + 16 + k * ptr)
            hoff = file_offset(hdr)
            keep.append((hoff, 2 * ptr))
            addr, length = struct.unpack_from(pe + pe[1], data, hoff)
            keep.append((file_offset(addr), length))
    out = bytearray(len(data))
    for off, size in keep:
        out[off : off + size] = data[off : off + size]
    return bytes(out)


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        slimmed = slim(f.read())
    with open(sys.argv[2], "wb") as f:
        f.write(gzip.compress(slimmed, 9, mtime=0))
