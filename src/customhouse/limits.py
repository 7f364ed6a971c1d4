"""Limits enforced while streaming untrusted input (TUF's ``UpdaterConfig`` habit).

Every reader of untrusted bytes takes a :class:`Limits`; nothing reads "until EOF"
without a ceiling. Values can be overridden with ``CUSTOMHOUSE_LIMIT_<NAME>``
environment variables (for example ``CUSTOMHOUSE_LIMIT_MAX_LAYER_BYTES``).
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
import os
from typing import NamedTuple

from customhouse.errors import UsageError

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


class Limits(NamedTuple):
    max_manifest_bytes: int = 4 * MiB  # distribution spec recommends 4 MiB
    max_config_bytes: int = 8 * MiB
    max_index_entries: int = 1024
    max_layers: int = 512
    max_blob_bytes: int = 16 * GiB  # compressed layer size
    max_layer_bytes: int = 32 * GiB  # uncompressed size of one layer
    max_ratio: int = 200  # uncompressed / compressed, checked once past ratio_grace
    ratio_grace_bytes: int = 64 * MiB
    max_members: int = 2_000_000  # tar entries per layer
    max_path_bytes: int = 4096
    max_file_bytes: int = 16 * GiB
    max_header_bytes: int = 1 * MiB  # pax / GNU long-name extension payloads
    max_archive_json_bytes: int = 8 * MiB  # manifest.json / index.json in archives

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Limits":
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for name in cls._fields:
            raw = env.get(f"CUSTOMHOUSE_LIMIT_{name.upper()}")
            if raw is None:
                continue
            try:
                value = int(raw)
            except ValueError:
                raise UsageError(
                    f"CUSTOMHOUSE_LIMIT_{name.upper()}={raw!r}: not an integer"
                ) from None
            if value <= 0:
                raise UsageError(f"CUSTOMHOUSE_LIMIT_{name.upper()} must be positive")
            values[name] = value
        return cls(**values)


DEFAULT_LIMITS = Limits()
