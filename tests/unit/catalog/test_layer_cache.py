"""The per-layer analysis cache: what is written is what is read back, and a bad file is a miss."""

from __future__ import annotations

from pathlib import Path

import orjson

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
