"""Hash streams on the other core.

hashlib releases the GIL while it digests a buffer, while ISA-L decompression and
tar parsing hold it; so a worker thread that does nothing but ``update`` overlaps
the two digests a layer needs (blob digest and diffID) with decompression.
"""

from __future__ import annotations

import queue
import threading
from typing import Any


class BackgroundHasher:
    """One worker thread, several hashers. ``update`` never blocks on hashing."""

    def __init__(self) -> None:
        self._hashers: list[Any] = []
        self._queue: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="customhouse-hash", daemon=True)
        self._thread.start()

    def add(self, hasher: Any) -> int:
        self._hashers.append(hasher)
        return len(self._hashers) - 1

    def _run(self) -> None:
        hashers = self._hashers
        get = self._queue.get
        while True:
            which, data = get()
            if which < 0:
                if data is None:
                    return
                slot, reply = data
                reply.put(hashers[slot].hexdigest())
                continue
            hashers[which].update(data)

    def update(self, which: int, data: bytes) -> None:
        self._queue.put((which, data))

    def hexdigest(self, which: int) -> str:
        """Wait until every queued chunk for ``which`` is hashed; return its digest."""
        reply: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._queue.put((-1, (which, reply)))
        return reply.get()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put((-1, None))
            self._thread.join()

    def __enter__(self) -> BackgroundHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
