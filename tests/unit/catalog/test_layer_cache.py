"""The per-layer analysis cache: what is written is what is read back, and a bad file is a miss."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from customhouse.catalog.analyze import LayerAnalysis, LayerCache
from customhouse.catalog.interface import Distro, FileResult, Package

DIFF_ID = "sha256:" + "ab" * 32


def _analysis() -> LayerAnalysis:
    six = Package(
        "pypi",
        "six",
        "1.16.0",
        "pkg:pypi/six@1.16.0",
        "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
        licenses=("MIT",),
        extra={"summary": "Python 2 and 3 compatibility utilities"},
    )
    bash = Package(
        "deb",
        "bash",
        "5.2.15-2+b2",
        "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64",
        "var/lib/dpkg/status",
        source_name="bash",
        arch="amd64",
    )
    owned = [
        "bin/bash",
        "usr/share/doc/caf\u00e9 au lait/copyright",
        "odd\nname",
        "tab\tand space ",
    ]
    return LayerAnalysis(
        diff_id=DIFF_ID,
        files={
            "var/lib/dpkg/status": FileResult(packages=[bash], warnings=["line 3: odd"]),
            "var/lib/dpkg/info/bash.list": FileResult(owned_files=owned),
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA": FileResult(
                packages=[six]
            ),
            "etc/os-release": FileResult(
                distro=Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")
            ),
            "usr/share/doc/bash/copyright": FileResult(licenses_for={"bash": ["GPL-3+"]}),
        },
        whiteouts=["tmp/x"],
        opaques=["var/cache"],
        warnings=["w"],
    )


def test_analysis_reads_back_equal_to_what_was_written(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    written = _analysis()
    cache.put(written)
    assert cache.get(DIFF_ID) == written


def test_owned_files_with_newlines_and_spaces_survive_the_round_trip(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    cache.put(_analysis())
    read = cache.get(DIFF_ID)
    assert read is not None
    assert read.files["var/lib/dpkg/info/bash.list"].owned_files == [
        "bin/bash",
        "usr/share/doc/caf\u00e9 au lait/copyright",
        "odd\nname",
        "tab\tand space ",
    ]


def test_a_path_that_is_not_utf8_round_trips_and_leaves_no_temp_file(tmp_path: Path) -> None:
    from customhouse.catalog.dpkg import DpkgCataloger

    listed = DpkgCataloger().parse("var/lib/dpkg/info/demo.list", b"/usr/share/caf\xe9\n/bin/x\n")
    assert listed.owned_files[0] == "usr/share/caf\udce9"  # surrogateescape: the raw byte kept
    analysis = LayerAnalysis(DIFF_ID, files={"var/lib/dpkg/info/demo.list": listed})
    cache = LayerCache(tmp_path)
    cache.put(analysis)
    assert cache.get(DIFF_ID) == analysis
    assert [p.name for p in cache.dir.iterdir()] == [f"sha256-{'ab' * 32}.json"]


def test_corrupt_or_foreign_cache_file_is_a_miss(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    cache.put(_analysis())
    path = next(cache.dir.glob("*.json"))
    path.write_bytes(b'{"diff_id": "sha256:' + b"cd" * 32 + b'", "files": {}')  # cut short
    assert cache.get(DIFF_ID) is None
    other = _analysis()
    other.diff_id = "sha256:" + "cd" * 32
    path.write_bytes(orjson.dumps(other.to_json()))
    assert cache.get(DIFF_ID) is None  # a file that names another layer is not trusted


@pytest.mark.parametrize(
    ("make", "fields"),
    [
        (FileResult, ("packages", "owned_files", "warnings", "licenses_for")),
        (lambda: LayerAnalysis(DIFF_ID), ("files", "whiteouts", "opaques", "warnings")),
    ],
    ids=["FileResult", "LayerAnalysis"],
)
def test_default_containers_are_not_shared_between_records(
    make: Callable[[], Any], fields: tuple[str, ...]
) -> None:
    first, second = make(), make()
    for name in fields:
        box = getattr(first, name)
        if isinstance(box, list):
            box.append("x")
        else:
            box["x"] = []
        assert getattr(second, name) == type(box)(), name
    assert first != second and make() == second


def test_analyses_differing_in_one_field_are_not_equal() -> None:
    base = _analysis()
    for name, value in [
        ("diff_id", "sha256:" + "cd" * 32),
        ("whiteouts", ["tmp/y"]),
        ("opaques", []),
        ("warnings", []),
    ]:
        other = _analysis()
        setattr(other, name, value)
        assert other != base, name
    other = _analysis()
    other.files["etc/os-release"].distro = None
    assert other != base
    assert "etc/os-release" in repr(base)


def test_packages_and_distros_are_immutable_and_replace_makes_a_copy() -> None:
    six = _analysis().files["usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"]
    pkg = six.packages[0]
    with pytest.raises(AttributeError):
        pkg.version = "2"  # type: ignore[misc]
    moved = pkg._replace(layer=3, layer_diff_id=DIFF_ID)
    assert (moved.layer, pkg.layer) == (3, None) and moved.to_json()["layer"] == 3
    assert Package.from_json(moved.to_json()) == moved
    plain = Package("deb", "bash", "5.2", "pkg:deb/debian/bash@5.2", "var/lib/dpkg/status")
    assert plain.extra == {} and "extra" not in plain.to_json()
    with pytest.raises(TypeError):
        plain.extra["x"] = "y"  # type: ignore[index]
    distro = Distro("debian", "12", "bookworm", source="etc/os-release")
    with pytest.raises(AttributeError):
        distro.id = "ubuntu"  # type: ignore[misc]
    assert Distro.from_json(distro.to_json()) == distro
