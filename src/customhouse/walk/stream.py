"""Decompress a layer blob once, as a stream, verifying its diffID and bounding its size.

The compression is sniffed from the magic bytes (gzip, zstd, or plain tar) rather
than trusted from the media type, as container runtimes do. Every decompressed byte
is hashed for the diffID check; output is capped in absolute size and in ratio to
the compressed input, so a decompression bomb stops early.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from customhouse.digest import Digest, VerifyingReader
from customhouse.errors import DigestMismatchError, LayerError, LimitExceededError
from customhouse.limits import Limits
from customhouse.walk._zstdframes import FrameTracker

CHUNK = 1 << 20
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


class LayerStream:
    """Iterate decompressed chunks of one layer. ``next_chunk`` returns b"" at the end."""

    def __init__(
        self,
        raw: VerifyingReader,
        diff_id: Digest | None,
        *,
        limits: Limits,
        label: str,
        bg: Any = None,
    ) -> None:
        self._raw = raw
        self._limits = limits
        self.label = label
        self._diff_id = diff_id
        self._hasher = diff_id.hasher() if diff_id is not None else None
        self._bg = bg
        self.out_bytes = 0
        self._pending = b""
        self._eof = False
        head = raw.read(CHUNK)
        if head[:2] == _GZIP:
            self.compression = "gzip"
            from isal import igzip_lib

            self._igzip: Any = igzip_lib
            self._d: Any = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
            self._pending = head
        elif head[:4] == _ZSTD:
            self.compression = "zstd"
            import zstandard

            self._frames = FrameTracker()
            self._d = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(
                _Prefixed(head, raw, self._frames),  # type: ignore[arg-type]
                read_size=CHUNK,
                read_across_frames=True,
            )
        else:
            self.compression = "none"
            self._d = None
            self._pending = head
            if diff_id is not None and raw.expected == diff_id:
                # an uncompressed blob named by its diffID: the blob check is the diffID check
                self._hasher = None
        self._slot = bg.add(self._hasher) if (bg is not None and self._hasher is not None) else -1

    @property
    def in_bytes(self) -> int:
        return self._raw.count

    def _emit(self, data: bytes) -> bytes:
        if not data:
            return data
        self.out_bytes += len(data)
        limits = self._limits
        if self.out_bytes > limits.max_layer_bytes:
            raise LimitExceededError(
                f"layer {self.label}: uncompressed size exceeds the limit of"
                f" {limits.max_layer_bytes} bytes (decompression bomb?)"
            )
        if (
            self.compression != "none"
            and self.out_bytes > limits.ratio_grace_bytes
            and self.out_bytes > limits.max_ratio * max(self.in_bytes, 1)
        ):
            raise LimitExceededError(
                f"layer {self.label}: expands more than the limit of {limits.max_ratio}:1"
                f" ({self.in_bytes} compressed bytes gave {self.out_bytes}): decompression bomb"
            )
        if self._hasher is not None:
            if self._bg is not None:
                self._bg.update(self._slot, data)
            else:
                self._hasher.update(data)
        return data

    def next_chunk(self) -> bytes:
        try:
            return self._next()
        except (DigestMismatchError, LimitExceededError, LayerError):
            raise
        except Exception as e:  # zlib.error, zstd.ZstdError, ZstdFrameError, EOFError ...
            # a corrupt stream is most often a tampered blob: say so by its digest when it is
            self._raw.drain()
            raise LayerError(f"corrupt {self.compression} stream: {e}", layer=self.label) from e

    def _next(self) -> bytes:
        while not self._eof:
            if self._d is None:
                data = self._pending or self._raw.read(CHUNK)
                self._pending = b""
                if not data:
                    self._finish()
                    return b""
                return self._emit(data)
            if self.compression == "gzip":
                out = self._gzip_step()
            else:
                out = self._zstd_step()
            if out:
                return self._emit(out)
        return b""

    def _gzip_step(self) -> bytes:
        # ISA-L's own decompressor keeps unconsumed input inside (no tail copied back
        # and forth as with the zlib-style API) and checks each member's CRC and size
        d = self._d
        if d.eof:
            rest = d.unused_data
            while len(rest) < 2:
                more = self._raw.read(CHUNK)
                if not more:
                    break
                rest += more
            if not rest:
                self._finish()
                return b""
            if rest[:2] != _GZIP:
                if rest.strip(b"\0"):
                    raise LayerError("trailing garbage after the gzip stream", layer=self.label)
                self._pending = b""
                self._drain_zero_padding()
                return b""
            # concatenated gzip members are one stream (RFC 1952)
            self._d = d = self._igzip.IgzipDecompressor(flag=self._igzip.DECOMP_GZIP)
            return d.decompress(rest, CHUNK)  # type: ignore[no-any-return]
        if not d.needs_input:
            return d.decompress(b"", CHUNK)  # type: ignore[no-any-return]
        data = self._pending or self._raw.read(CHUNK)
        self._pending = b""
        if not data:
            raise LayerError("truncated gzip stream (unexpected end of data)", layer=self.label)
        return d.decompress(data, CHUNK)  # type: ignore[no-any-return]

    def _drain_zero_padding(self) -> None:
        while data := self._raw.read(CHUNK):
            if data.strip(b"\0"):
                raise LayerError("trailing garbage after the gzip stream", layer=self.label)
        self._finish()

    def _zstd_step(self) -> bytes:
        out = self._d.read(CHUNK)
        if not out:
            if not self._frames.at_boundary:
                self._raw.drain()  # a tampered blob is reported by its digest first
                raise LayerError(
                    "truncated zstd stream (input ends inside a frame)", layer=self.label
                )
            self._finish()
        return bytes(out)

    def _finish(self) -> None:
        if self._eof:
            return
        self._eof = True
        self._raw.drain()  # checks the blob digest and size
        if self._hasher is not None and self._diff_id is not None:
            actual = (
                self._bg.hexdigest(self._slot) if self._bg is not None else self._hasher.hexdigest()
            )
            if actual != self._diff_id.hex:
                raise DigestMismatchError(
                    f"layer {self.label}: uncompressed content hashes to"
                    f" {self._diff_id.algorithm}:{actual}, but the config's diffID is"
                    f" {self._diff_id}; refusing a layer whose diffID lies (layer-cache poisoning)",
                    expected=str(self._diff_id),
                    actual=f"{self._diff_id.algorithm}:{actual}",
                )

    def drain(self) -> None:
        """Consume the rest so both digests are checked."""
        while self.next_chunk():
            pass


class _Prefixed:
    """A reader that returns ``head`` first, then the rest of ``raw``, showing every byte to ``frames``."""

    def __init__(self, head: bytes, raw: VerifyingReader, frames: FrameTracker) -> None:
        self._head = head
        self._raw = raw
        self._frames = frames

    def read(self, n: int = -1) -> bytes:
        if self._head:
            data, self._head = self._head, b""
        else:
            data = self._raw.read(n)
        self._frames.feed(data)
        return data


class Prefetched:
    """Run a :class:`LayerStream` in a worker thread, a few chunks ahead of its consumer.

    Decompression (ISA-L, zstd) and hashing release the GIL, so the layer inflates on
    another core while this one parses tar headers and runs the catalogers. Whatever
    the stream raises is raised again, unchanged, by :meth:`next_chunk`; :meth:`close`
    stops the worker when the consumer stops early.
    """

    def __init__(self, stream: LayerStream, depth: int = 4) -> None:
        self.stream = stream
        self._queue: queue.Queue[tuple[bytes, BaseException | None]] = queue.Queue(depth)
        self._stop = False
        self._done = False
        self._thread = threading.Thread(target=self._run, name="customhouse-inflate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        put = self._queue.put
        try:
            while not self._stop:
                chunk = self.stream.next_chunk()
                put((chunk, None))
                if not chunk:
                    return
        except BaseException as e:  # handed to the consumer, raised there
            put((b"", e))

    def next_chunk(self) -> bytes:
        if self._done:
            return b""
        chunk, error = self._queue.get()
        if error is not None:
            self._done = True
            raise error
        if not chunk:
            self._done = True
        return chunk

    def drain(self) -> None:
        """Consume the rest so both digests are checked."""
        while self.next_chunk():
            pass

    def close(self) -> None:
        self._stop = True
        while self._thread.is_alive():  # unblock a worker waiting for room in the queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(0.01)

    def __enter__(self) -> Prefetched:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
