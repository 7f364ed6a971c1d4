"""Python package versions (PEP 440), parsed and ordered by ``packaging``, the reference."""

from __future__ import annotations

from collections.abc import Hashable

from packaging.version import InvalidVersion as _PackagingInvalid
from packaging.version import Version as _PackagingVersion

from customhouse.versions.interface import VersionScheme


class Pep440Scheme(VersionScheme):
    name = "pep440"

    def _parse_key(self, text: str) -> Hashable:
        try:
            return _PackagingVersion(text)
        except _PackagingInvalid as e:
            raise self._invalid(text, "not a PEP 440 version") from e
