"""The Java cataloger on archives zipped at test time from real jar metadata.

tests/data/catalog/java/<jar>/ holds the META-INF files of real Debian jars
(SOURCES.md); the tests zip them into jars, wars, ears and Spring Boot jars.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import pytest

from customhouse.catalog import java
from customhouse.catalog.interface import Package
from customhouse.catalog.java import JavaCataloger, parse_manifest, parse_properties

DATA = Path(__file__).resolve().parents[2] / "data" / "catalog" / "java"
CAT = JavaCataloger()


def zip_bytes(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, content in entries.items():
            z.writestr(name, content)
    return buf.getvalue()


def real_jar(name: str) -> bytes:
    """The jar ``name`` rebuilt from its real META-INF files, plus one class file entry."""
    root = DATA / name
    entries = {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
    entries["org/example/Placeholder.class"] = b"\xca\xfe\xba\xbe\x00\x00\x00\x34"
    return zip_bytes(entries)


def idents(packages: list[Package]) -> set[tuple[str, str, str, str]]:
    return {(p.name, p.version, p.purl, p.extra["found_by"]) for p in packages}


# jar -> packages (name, version, purl, how found); pom.properties and MANIFEST.MF as read
# by `unzip -p` from the Debian jars
REAL_JARS = [
    (
        "log4j-core.jar",
        {
            (
                "org.apache.logging.log4j:log4j-core",
                "2.19.0",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.19.0",
                "pom.properties",
            )
        },
    ),
    (
        "jackson-databind.jar",
        {
            (
                "com.fasterxml.jackson.core:jackson-databind",
                "2.14.0",
                "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.14.0",
                "pom.properties",
            )
        },
    ),
    (
        # Implementation-Version 1.2, Implementation-Vendor-Id org.apache, name from the file
        "commons-logging-1.2.jar",
        {
            (
                "org.apache:commons-logging",
                "1.2",
                "pkg:maven/org.apache/commons-logging@1.2",
                "MANIFEST.MF",
            )
        },
    ),
    (
        # Bundle-Version 3.6.3, Bundle-SymbolicName org.mongodb.bson -> group org.mongodb
        "bson-3.6.3.jar",
        {("org.mongodb:bson", "3.6.3", "pkg:maven/org.mongodb/bson@3.6.3", "MANIFEST.MF")},
    ),
    # the manifest says nothing: the file name does
    ("aopalliance-1.0.jar", {("aopalliance", "1.0", "pkg:maven/aopalliance@1.0", "file name")}),
    # Bundle-Version 4.2.3; no group can be told
    (
        "guice-servlet.jar",
        {("guice-servlet", "4.2.3", "pkg:maven/guice-servlet@4.2.3", "MANIFEST.MF")},
    ),
    (
        "maven3-slf4j-provider.jar",
        {
            (
                "org.apache.maven:maven-slf4j-provider",
                "3.8.7",
                "pkg:maven/org.apache.maven/maven-slf4j-provider@3.8.7",
                "pom.properties",
            ),
            (
                "org.slf4j:slf4j-simple",
                "1.7.32",
                "pkg:maven/org.slf4j/slf4j-simple@1.7.32",
                "pom.properties",
            ),
        },
    ),
    (
        "wagon-http-shaded-3.5.3.jar",
        {
            (
                "commons-codec:commons-codec",
                "1.15",
                "pkg:maven/commons-codec/commons-codec@1.15",
                "pom.properties",
            ),
            (
                "org.apache.httpcomponents:httpclient",
                "4.5.14",
                "pkg:maven/org.apache.httpcomponents/httpclient@4.5.14",
                "pom.properties",
            ),
            (
                "org.apache.httpcomponents:httpcore",
                "4.4.16",
                "pkg:maven/org.apache.httpcomponents/httpcore@4.4.16",
                "pom.properties",
            ),
            (
                "org.apache.maven.wagon:wagon-http",
                "3.5.3",
                "pkg:maven/org.apache.maven.wagon/wagon-http@3.5.3",
                "pom.properties",
            ),
            (
                "org.apache.maven.wagon:wagon-http-shared",
                "3.5.3",
                "pkg:maven/org.apache.maven.wagon/wagon-http-shared@3.5.3",
                "pom.properties",
            ),
        },
    ),
]


@pytest.mark.parametrize(("jar", "wanted"), REAL_JARS, ids=[j for j, _ in REAL_JARS])
def test_real_jar_metadata_gives_maven_coordinates(
    jar: str, wanted: set[tuple[str, str, str, str]]
) -> None:
    path = f"usr/share/java/{jar}"
    result = CAT.parse(path, real_jar(jar))
    assert result.warnings == []
    assert idents(result.packages) == wanted
    for p in result.packages:
        assert p.ecosystem == "maven" and p.path == path
        assert "archive" not in p.extra  # found in the file itself


def test_bundle_license_is_declared_on_the_single_artifact() -> None:
    (pkg,) = CAT.parse("a/jackson-databind.jar", real_jar("jackson-databind.jar")).packages
    assert pkg.licenses == ("https://www.apache.org/licenses/LICENSE-2.0.txt",)
    (pkg,) = CAT.parse("a/commons-logging-1.2.jar", real_jar("commons-logging-1.2.jar")).packages
    assert pkg.licenses == ("http://www.apache.org/licenses/LICENSE-2.0.txt",)


def test_manifest_continuation_lines_are_joined() -> None:
    text = (DATA / "log4j-core.jar" / "META-INF" / "MANIFEST.MF").read_text()
    fields = parse_manifest(text)
    assert fields["Bundle-SymbolicName"] == "org.apache.logging.log4j.core"
    assert fields["Implementation-Version"] == "2.19.0"
    assert fields["Implementation-Vendor"] == ""
    # "...uses:=\"org.apache.logging.\n log4j,org.apache..." in the file
    assert (
        'org.apache.logging.log4j.core;uses:="org.apache.logging.log4j,org.apache'
        in fields["Export-Package"]
    )
    assert "\n" not in fields["Export-Package"]


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        # jackson-databind's, as the felix bundle plugin writes it
        (
            (
                DATA
                / "jackson-databind.jar/META-INF/maven/com.fasterxml.jackson.core/jackson-databind/pom.properties"
            ).read_text(),
            {
                "groupId": "com.fasterxml.jackson.core",
                "artifactId": "jackson-databind",
                "version": "2.14.0",
            },
        ),
        (
            "! comment\nversion = 1.0\ngroupId:org.x\nartifactId org-y\n",
            {"version": "1.0", "groupId": "org.x", "artifactId": "org-y"},
        ),
        ("version=1.\\\n    0\n", {"version": "1.0"}),
        ("name=caf\\u00e9\\tbar\n", {"name": "café\tbar"}),
        ("a\\=b=c\n", {"a=b": "c"}),
        ("trailing=x\\", {"trailing": "x\\"}),
    ],
)
def test_properties_reader_follows_java_properties_rules(text: str, wanted: dict[str, str]) -> None:
    assert parse_properties(text) == wanted


# --- nesting ------------------------------------------------------------------------


def test_war_reports_jars_in_web_inf_lib_with_their_archive_path() -> None:
    war = zip_bytes(
        {
            "WEB-INF/web.xml": b"<web-app/>",
            "WEB-INF/lib/log4j-core-2.19.0.jar": real_jar("log4j-core.jar"),
            "WEB-INF/lib/jackson-databind-2.14.0.jar": real_jar("jackson-databind.jar"),
        }
    )
    result = CAT.parse("srv/app/shop-1.4.war", war)
    assert result.warnings == []
    by_name = {p.name: p for p in result.packages}
    assert sorted(by_name) == [
        "com.fasterxml.jackson.core:jackson-databind",
        "org.apache.logging.log4j:log4j-core",
        "shop",
    ]
    log4j = by_name["org.apache.logging.log4j:log4j-core"]
    assert log4j.path == "srv/app/shop-1.4.war"
    assert log4j.extra["archive"] == "srv/app/shop-1.4.war:WEB-INF/lib/log4j-core-2.19.0.jar"
    assert (by_name["shop"].version, by_name["shop"].extra["found_by"]) == ("1.4", "file name")


def test_spring_boot_jar_reports_boot_inf_lib() -> None:
    boot = zip_bytes(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n"
            b"Start-Class: com.example.Demo\r\nImplementation-Title: demo\r\nImplementation-Version: 0.0.1-SNAPSHOT\r\n\r\n",
            "BOOT-INF/lib/bson-3.6.3.jar": real_jar("bson-3.6.3.jar"),
            "BOOT-INF/lib/commons-logging-1.2.jar": real_jar("commons-logging-1.2.jar"),
        },
        zipfile.ZIP_STORED,  # Spring Boot stores nested jars uncompressed
    )
    result = CAT.parse("app/demo.jar", boot)
    assert result.warnings == []
    assert {(p.name, p.version) for p in result.packages} == {
        ("demo", "0.0.1-SNAPSHOT"),
        ("org.mongodb:bson", "3.6.3"),
        ("org.apache:commons-logging", "1.2"),
    }


def _nest(depth: int) -> bytes:
    """An ear holding a war holding ... ``depth`` archives in all, log4j-core innermost."""
    data = real_jar("log4j-core.jar")
    for level in range(depth - 1, 0, -1):
        data = zip_bytes({f"lib/level{level + 1}.jar": data})
    return data


def test_nesting_to_the_depth_limit_is_read() -> None:
    assert java.MAX_DEPTH == 3
    result = CAT.parse("opt/app.ear", _nest(3))
    assert result.warnings == []
    assert "org.apache.logging.log4j:log4j-core" in {p.name for p in result.packages}


def test_nesting_past_the_depth_limit_is_a_warning() -> None:
    result = CAT.parse("opt/app.ear", _nest(4))
    assert "org.apache.logging.log4j:log4j-core" not in {p.name for p in result.packages}
    assert result.warnings == [
        "opt/app.ear: opt/app.ear:lib/level2.jar:lib/level3.jar:lib/level4.jar: "
        "nested deeper than 3 archives; skipped"
    ]


# --- hostile and broken archives ----------------------------------------------------


def test_zip_bomb_entry_is_skipped_by_its_compression_ratio() -> None:
    bomb = zip_bytes({"lib/bomb.jar": b"\0" * (16 * 1024 * 1024), **{"META-INF/MANIFEST.MF": b""}})
    assert len(bomb) < 64 * 1024  # 16 MiB of zeros deflate to a few KiB
    result = CAT.parse("app/bomb-1.0.jar", bomb)
    assert [w for w in result.warnings if "compression ratio" in w] == [
        "app/bomb-1.0.jar: app/bomb-1.0.jar:lib/bomb.jar: compression ratio over 200 (a zip bomb?); skipped"
    ]
    assert {(p.name, p.version) for p in result.packages} == {("bomb", "1.0")}


def test_entry_that_inflates_past_its_limit_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(java, "MAX_NESTED_BYTES", 1024)
    inner = real_jar("jackson-databind.jar")
    assert len(inner) > 1024
    outer = zip_bytes({"WEB-INF/lib/jackson-databind.jar": inner}, zipfile.ZIP_STORED)
    result = CAT.parse("x.war", outer)
    assert result.warnings == [
        f"x.war: x.war:WEB-INF/lib/jackson-databind.jar: {len(inner)} bytes is over the 1024 read; skipped"
    ]


def test_total_inflated_bytes_of_nested_archives_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inner = real_jar("bson-3.6.3.jar")
    monkeypatch.setattr(java, "MAX_TOTAL_BYTES", len(inner) * 2)
    outer = zip_bytes({f"lib/bson-{i}.jar": inner for i in range(5)})
    result = CAT.parse("x.ear", outer)
    assert len([w for w in result.warnings if "in all; skipped" in w]) == 3
    assert sorted(p.extra["archive"] for p in result.packages if p.name == "org.mongodb:bson") == [
        "x.ear:lib/bson-0.jar",
        "x.ear:lib/bson-1.jar",
    ]


def test_entry_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(java, "MAX_ENTRIES", 10)
    jar = zip_bytes({f"org/x/C{i}.class": b"\xca\xfe\xba\xbe" for i in range(50)})
    result = CAT.parse("lib/many-2.0.jar", jar)
    assert result.warnings == [
        "lib/many-2.0.jar: lib/many-2.0.jar: 50 entries; only the first 10 looked at"
    ]
    assert {(p.name, p.version) for p in result.packages} == {("many", "2.0")}


@pytest.mark.parametrize(
    ("label", "content"),
    [
        ("truncated", real_jar("log4j-core.jar")[:2000]),
        ("not a zip", b"PK\x03\x04" + b"\x00" * 100),
        ("empty", b""),
    ],
)
def test_corrupt_archive_is_a_warning(label: str, content: bytes) -> None:
    result = CAT.parse("opt/lib/broken.jar", content)
    assert result.packages == [], label
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(
        "opt/lib/broken.jar: opt/lib/broken.jar: not a readable zip archive: "
    )


def test_corrupt_nested_archive_is_a_warning_and_the_rest_is_read() -> None:
    war = zip_bytes(
        {
            "WEB-INF/lib/broken.jar": real_jar("log4j-core.jar")[:1500],
            "WEB-INF/lib/jackson-databind.jar": real_jar("jackson-databind.jar"),
        }
    )
    result = CAT.parse("w/app.war", war)
    assert "com.fasterxml.jackson.core:jackson-databind" in {p.name for p in result.packages}
    assert len(result.warnings) == 1
    assert "w/app.war:WEB-INF/lib/broken.jar: not a readable zip archive" in result.warnings[0]


def test_entry_with_a_bad_crc_is_a_warning() -> None:
    jar = bytearray(real_jar("log4j-core.jar"))
    name = b"META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties"
    at = jar.rindex(name)  # its central directory record, whose CRC zipfile checks
    crc_at = jar.rindex(b"PK\x01\x02", 0, at) + 16
    jar[crc_at : crc_at + 4] = (zlib.crc32(b"other") & 0xFFFFFFFF).to_bytes(4, "little")
    result = CAT.parse("a/log4j-core.jar", bytes(jar))
    assert any("unreadable entry: BadZipFile" in w for w in result.warnings)


def test_unresolved_placeholder_version_is_a_warning() -> None:
    jar = zip_bytes(
        {
            "META-INF/maven/org.x/y/pom.properties": b"groupId=org.x\nartifactId=y\nversion=${project.version}\n",
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\nImplementation-Version: 3.1\n",
        }
    )
    result = CAT.parse("lib/y.jar", jar)
    assert result.warnings == [
        "lib/y.jar: lib/y.jar:META-INF/maven/org.x/y/pom.properties: no usable artifactId/version"
    ]
    assert {(p.name, p.version, p.extra["found_by"]) for p in result.packages} == {
        ("y", "3.1", "MANIFEST.MF")
    }


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("usr/share/java/log4j-core.jar", True),
        ("srv/app.WAR", True),
        ("opt/x.ear", True),
        ("var/jenkins_home/plugins/git.jpi", True),
        ("var/jenkins_home/plugins/git.hpi", True),
        ("usr/share/java/README.jar.txt", False),
        ("app/app.zip", False),
        ("jar", False),
    ],
)
def test_match_wants_java_archive_names(path: str, wanted: bool) -> None:
    assert CAT.match(path, 0o644, 1000) is wanted
