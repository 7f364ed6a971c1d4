"""One root error, one family per layer.

Every error the tool raises on purpose derives from :class:`CustomhouseError` and
carries the exit code it maps to. The CLI translates errors to exit codes in one
place (``cli.main``); nothing else prints tracebacks or calls ``sys.exit``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2
EXIT_OPERATIONAL = 3


class CustomhouseError(Exception):
    """Root of every error customhouse raises deliberately."""

    exit_code = EXIT_INPUT


# --- input errors (exit 2) -------------------------------------------------


class InputError(CustomhouseError):
    """The user handed us something malformed or hostile."""

    exit_code = EXIT_INPUT


class ReferenceError_(InputError):
    """An image reference does not follow the reference grammar."""


class DigestError(InputError):
    """A digest string is malformed or uses an unsupported algorithm."""


class DigestMismatchError(InputError):
    """Content does not match the digest that names it (tampering or corruption)."""

    def __init__(self, message: str, *, expected: str, actual: str | None = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class ImageFormatError(InputError):
    """A manifest, index, config or archive is malformed or unsupported."""


class PlatformError(InputError):
    """No manifest in an index matches the requested platform, or the choice is ambiguous."""


class LimitExceededError(InputError):
    """Input exceeded a configured limit (size, ratio, count): likely a bomb."""


class LayerError(InputError):
    """A layer tar contains a hostile or malformed entry."""

    def __init__(self, message: str, *, layer: str | None = None, entry: str | None = None):
        where = []
        if layer:
            where.append(f"layer {layer}")
        if entry is not None:
            where.append(f"entry {entry!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.layer = layer
        self.entry = entry


class SourceError(InputError):
    """An image source path or transport is unusable (missing file, unknown scheme)."""


class UsageError(InputError):
    """The command line asks for something impossible or unsafe."""


# --- operational errors (exit 3) -------------------------------------------


class OperationalError(CustomhouseError):
    """Something outside the input failed: network, disk, a peer service."""

    exit_code = EXIT_OPERATIONAL


class RegistryError(OperationalError):
    """The registry answered with an error or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(RegistryError):
    """Authentication with a registry failed."""


class StorageError(OperationalError):
    """Local I/O failed (disk full, permission denied, ...)."""
