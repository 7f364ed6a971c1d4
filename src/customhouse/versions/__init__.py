"""Version schemes: parse, order and range-match versions exactly as each ecosystem does.

>>> from customhouse.versions import get_scheme
>>> get_scheme("dpkg").compare("1.0~rc1", "1.0")
-1
"""

from customhouse.versions.interface import (
    InvalidVersion,
    OsvEvent,
    OsvRange,
    UnknownScheme,
    Version,
    VersionScheme,
)
from customhouse.versions.registry import (
    ECOSYSTEMS,
    SCHEME_NAMES,
    get_scheme,
    scheme_for_ecosystem,
)

__all__ = [
    "ECOSYSTEMS",
    "SCHEME_NAMES",
    "InvalidVersion",
    "OsvEvent",
    "OsvRange",
    "UnknownScheme",
    "Version",
    "VersionScheme",
    "get_scheme",
    "scheme_for_ecosystem",
]
