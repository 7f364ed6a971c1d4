"""Errors of the Dockerfile layer."""

from __future__ import annotations

from customhouse.errors import InputError


class DockerfileError(InputError):
    """A Dockerfile (or a lint configuration) cannot be used."""


class DockerfileParseError(DockerfileError):
    """A Dockerfile does not parse; names the file and, when known, the line."""

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.reason = message


class LintConfigError(DockerfileError):
    """The lint configuration file is malformed."""
