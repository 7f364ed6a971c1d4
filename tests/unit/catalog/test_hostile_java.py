"""The Java cataloger on hostile archives: metadata that is slow to read, bombs under
1 MiB, file names built to make a regex backtrack.

Each archive is small and read in well under a second; what is asserted is what is read
and what is refused (a warning naming the file), never how long it took.
"""

from __future__ import annotations

import random
import re
import zipfile

import pytest

from customhouse.catalog import java
from customhouse.catalog.java import JavaCataloger, parse_manifest, parse_properties

from .test_java import DATA, real_jar, zip_bytes

CAT = JavaCataloger()


def test_manifest_of_continuation_lines_is_joined_or_refused_by_its_ratio() -> None:
    # one Implementation-Version continued on 40,000 lines: 120 KB that deflate to well
    # under 1 KB; under 1 MiB, so the ratio was not looked at and the lines were joined
    # one by one, each copying the value so far
    manifest = b"Manifest-Version: 1.0\nImplementation-Version: 1\n" + b" 0\n" * 40_000
    assert parse_manifest(manifest.decode())["Implementation-Version"] == "1" + "0" * 40_000

    stored = zip_bytes({"META-INF/MANIFEST.MF": manifest}, zipfile.ZIP_STORED)
    result = CAT.parse("lib/x-2.0.jar", stored)
    assert result.warnings == []
    assert [(p.version, p.extra["found_by"]) for p in result.packages] == [
        ("1" + "0" * 40_000, "MANIFEST.MF")
    ]

    deflated = zip_bytes({"META-INF/MANIFEST.MF": manifest})
    assert len(deflated) < 2048
    result = CAT.parse("lib/x-2.0.jar", deflated)
    assert result.warnings == [
        "lib/x-2.0.jar: lib/x-2.0.jar:META-INF/MANIFEST.MF: "
        "compression ratio over 200 (a zip bomb?); skipped"
    ]
    assert [(p.name, p.version, p.extra["found_by"]) for p in result.packages] == [
        ("x", "2.0", "file name")
    ]


def test_pom_properties_full_of_escapes_is_read_exactly_or_refused_by_its_ratio() -> None:
    # a value continued on 5,000 lines, each two escapes: "\u002e0" and "\.0" are ".0"
    props = (
        b"groupId=g\nartifactId=a\nversion=1\\\n" + b"  \\u002e0\\.0\\\n" * 5_000 + b"  \\u002e1\n"
    )
    assert parse_properties(props.decode()) == {
        "groupId": "g",
        "artifactId": "a",
        "version": "1" + ".0.0" * 5_000 + ".1",
    }
    assert parse_properties("\\a" * 50_000) == {"a" * 50_000: ""}
    assert parse_properties("k\\=\\:\\ \\\\=\\u0041\\u004\\tz\\") == {"k=: \\": "Au004\tz\\"}

    stored = zip_bytes({"META-INF/maven/g/a/pom.properties": props}, zipfile.ZIP_STORED)
    (pkg,) = CAT.parse("lib/a.jar", stored).packages
    assert (pkg.name, pkg.version) == ("g:a", "1" + ".0.0" * 5_000 + ".1")

    # 100 entries of 100 KB of "\a", deflated ~400 to 1: each was unescaped a character
    # at a time in Python
    bombs = {f"META-INF/maven/g/a{i}/pom.properties": b"\\a" * 50_000 for i in range(100)}
    jar = zip_bytes(bombs)
    assert len(jar) < 64 * 1024
    result = CAT.parse("lib/a.jar", jar)
    assert result.warnings == [
        f"lib/a.jar: lib/a.jar:META-INF/maven/g/a{i}/pom.properties: "
        "compression ratio over 200 (a zip bomb?); skipped"
        for i in range(100)
    ]
    assert [(p.name, p.extra["found_by"]) for p in result.packages] == [("a", "file name")]


def test_metadata_read_in_all_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # the ratio bounds what one entry inflates to, this what all of them do: without it
    # every nested jar could bring 1 MiB of manifest and of each pom.properties
    meta = sum(p.stat().st_size for p in (DATA / "log4j-core.jar").rglob("*") if p.is_file())
    monkeypatch.setattr(java, "MAX_META_TOTAL", 2 * meta)
    inner = real_jar("log4j-core.jar")
    war = zip_bytes({f"lib/{i}/log4j-core-2.19.0.jar": inner for i in range(3)}, zipfile.ZIP_STORED)
    result = CAT.parse("srv/shop-1.0.war", war)
    third = "srv/shop-1.0.war:lib/2/log4j-core-2.19.0.jar"
    assert result.warnings == [
        f"srv/shop-1.0.war: {third}:{name}: metadata inflates past {2 * meta} bytes in all; skipped"
        for name in (
            "META-INF/MANIFEST.MF",
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
        )
    ]
    log4j = "org.apache.logging.log4j:log4j-core"
    assert {
        (p.extra.get("archive", ""), p.name, p.version, p.extra["found_by"])
        for p in result.packages
    } == {
        ("", "shop", "1.0", "file name"),
        ("srv/shop-1.0.war:lib/0/log4j-core-2.19.0.jar", log4j, "2.19.0", "pom.properties"),
        ("srv/shop-1.0.war:lib/1/log4j-core-2.19.0.jar", log4j, "2.19.0", "pom.properties"),
        (third, "log4j-core", "2.19.0", "file name"),
    }


_OLD_FILENAME = re.compile(r"^(?P<name>.+?)[-_]v?(?P<version>\d[\w.+~-]*)$")


def _old_file_identity(stem: str) -> tuple[str, str]:
    """What a file name gave before: the regex, which backtracks quadratically."""
    m = _OLD_FILENAME.match(stem)
    return (m.group("name"), m.group("version")) if m else (stem, "")


def test_file_name_is_read_in_one_pass_and_only_up_to_max_name() -> None:
    rng = random.Random(5)
    stems = [
        "log4j-core-2.19.0",
        "a-b-c-1.2-SNAPSHOT",
        "guava-31.1-jre",
        "x_v2",
        "x-v",
        "-1",
        "foo-1.2\n",
        "foo\n-1.2",
        "lib-\u0663",  # an Arabic-Indic digit is a \d too
        "-0" * 127 + "!",
        "-0" * 128,
        "a" * 250 + "-1.0",
    ] + ["".join(rng.choices("-_v10.+~a!\n é", k=rng.randrange(20))) for _ in range(3000)]
    for stem in stems:
        assert len(stem) <= 256  # java.MAX_NAME
        assert java._file_identity(f"dir/{stem}.jar") == _old_file_identity(stem), stem

    # nested archives named to make the regex backtrack, "-0-0...-0!": 4 KB names, over
    # MAX_NAME, give no identity (they gave a 4,000-character package name)
    empty = zip_bytes({})
    outer = zip_bytes(
        {
            **{f"l{i}/{'-0' * 2000}!.jar": empty for i in range(4)},
            f"l9/{'a' * 250}-1.0.jar": empty,
        },
        zipfile.ZIP_STORED,
    )
    result = CAT.parse("app/shop-1.0.jar", outer)
    assert result.warnings == []
    assert {(p.name, p.version) for p in result.packages} == {("shop", "1.0"), ("a" * 250, "1.0")}
