"""Track zstd frame boundaries in a compressed stream without decompressing it (RFC 8878).

python-zstandard's stream reader treats input that ends inside a frame as a clean
end of stream. Block headers carry their sizes, so following them is cheap: at the
end of the input, the tracker says whether the last frame was complete.
"""

from __future__ import annotations

_ZSTD_MAGIC = 0xFD2FB528
_SKIPPABLE_MASK = 0xFFFFFFF0
_SKIPPABLE_MAGIC = 0x184D2A50


class ZstdFrameError(ValueError):
    pass


class FrameTracker:
    """Feed it every compressed byte, in order; ``at_boundary`` is True between frames."""

    def __init__(self) -> None:
        self._state = "magic"  # the header field being collected
        self._need = 4
        self._buf = b""
        self._skip = 0  # payload bytes to pass over
        self._then = "block"  # the state after the payload
        self._checksum = False
        self.frames = 0

    @property
    def at_boundary(self) -> bool:
        return self._state == "magic" and not self._buf and self._skip == 0

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n:
            if self._skip:
                step = min(self._skip, n - i)
                self._skip -= step
                i += step
                if self._skip == 0:
                    self._after_payload()
                continue
            take = min(self._need - len(self._buf), n - i)
            self._buf += data[i : i + take]
            i += take
            if len(self._buf) == self._need:
                field, self._buf = self._buf, b""
                self._field(field)

    def _expect(self, state: str, need: int) -> None:
        self._state, self._need = state, need

    def _payload(self, size: int, then: str) -> None:
        self._then = then
        self._skip = size
        if size == 0:
            self._after_payload()

    def _after_payload(self) -> None:
        if self._then == "end":
            self.frames += 1
            self._expect("magic", 4)
        elif self._then == "checksum":
            self._expect("checksum", 4)
        else:
            self._expect("block", 3)

    def _field(self, field: bytes) -> None:
        state = self._state
        if state == "magic":
            magic = int.from_bytes(field, "little")
            if magic == _ZSTD_MAGIC:
                self._expect("descriptor", 1)
            elif magic & _SKIPPABLE_MASK == _SKIPPABLE_MAGIC:
                self._expect("skip-size", 4)
            else:
                raise ZstdFrameError(f"bad zstd frame magic 0x{magic:08x}")
        elif state == "skip-size":
            self._payload(int.from_bytes(field, "little"), "end")
        elif state == "descriptor":
            d = field[0]
            if d & 0x08:
                raise ZstdFrameError("reserved bit set in a zstd frame header")
            single = bool(d & 0x20)
            self._checksum = bool(d & 0x04)
            rest = (
                (0 if single else 1)
                + (0, 1, 2, 4)[d & 0x03]
                + (1 if single else 0, 2, 4, 8)[d >> 6]
            )
            if rest:
                self._expect("header-rest", rest)
            else:
                self._expect("block", 3)
        elif state == "header-rest":
            self._expect("block", 3)
        elif state == "block":
            h = int.from_bytes(field, "little")
            btype = (h >> 1) & 3
            if btype == 3:
                raise ZstdFrameError("reserved zstd block type")
            last = h & 1
            then = ("checksum" if self._checksum else "end") if last else "block"
            self._payload(1 if btype == 1 else h >> 3, then)
        elif state == "checksum":
            self.frames += 1
            self._expect("magic", 4)
