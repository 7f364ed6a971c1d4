"""Fixtures for integration tests: real images built once per session with umoci/skopeo."""

from __future__ import annotations

import imagebuild as ib
import pytest


@pytest.fixture(scope="session")
def image_tools() -> None:
    """umoci and skopeo, or skip: they build the images and provide the reference."""
    try:
        ib.require_tools("umoci", "skopeo")
    except ib.BuildUnavailable as e:
        pytest.skip(f"cannot build test images here: {e}")


@pytest.fixture(scope="session")
def image_factory(image_tools: None, tmp_path_factory: pytest.TempPathFactory) -> ib.ImageFactory:
    """Session-wide builder of the named test images (see ``imagebuild.ImageFactory``)."""
    return ib.ImageFactory(tmp_path_factory.mktemp("images"))
