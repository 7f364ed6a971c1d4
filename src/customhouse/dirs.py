"""Where customhouse keeps its files (XDG base directories, overridable by environment)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Layer analyses, compiled rule databases: ``$CUSTOMHOUSE_CACHE_DIR`` or ``$XDG_CACHE_HOME/customhouse``."""
    base = os.environ.get("CUSTOMHOUSE_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "customhouse"


def data_dir() -> Path:
    """The advisory database: ``$XDG_DATA_HOME/customhouse``."""
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(xdg) / "customhouse"
