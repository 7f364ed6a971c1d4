from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only real-data directory beside the repo; skip when it is absent."""
    if not (SHARED / "fixtures").is_dir():
        pytest.skip(f"real-data directory {SHARED} is absent (only on developer machines and CI)")
    return SHARED
