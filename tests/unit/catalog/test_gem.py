"""The RubyGems cataloger on real gemspecs (tests/data/catalog/gem/SOURCES.md).

Expected values are what RubyGems itself reads (``Gem::Specification.load``); when
``ruby`` is installed the tests ask it again, and also have RubyGems write
specifications (``Gem::Specification#to_ruby``) for gems with a platform, a single
license and a prerelease version.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from customhouse.catalog.gem import GemCataloger, parse_gemspec

DATA = Path(__file__).resolve().parents[2] / "data" / "catalog" / "gem"
CAT = GemCataloger()
RUBY = shutil.which("ruby")

# path -> (name, version, licenses), as Gem::Specification.load reads them (Ruby 3.1.2)
REAL = [
    (
        "usr/lib/ruby/gems/3.1.0/specifications/default/bundler-2.3.7.gemspec",
        "bundler",
        "2.3.7",
        ("MIT",),
    ),
    (
        "usr/lib/ruby/gems/3.1.0/specifications/default/digest-3.1.0.gemspec",
        "digest",
        "3.1.0",
        ("Ruby", "BSD-2-Clause"),
    ),
    (
        "usr/lib/ruby/gems/3.1.0/specifications/default/stringio-3.0.1.2.gemspec",
        "stringio",
        "3.0.1.2",
        ("Ruby", "BSD-2-Clause"),
    ),
    (
        "usr/lib/ruby/gems/3.1.0/specifications/minitest-5.15.0.gemspec",
        "minitest",
        "5.15.0",
        ("MIT",),
    ),
    ("usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", "rake", "13.0.6", ("MIT",)),
    (
        "usr/lib/x86_64-linux-gnu/rubygems-integration/3.1.0/specifications/nokogiri-1.13.10.gemspec",
        "nokogiri",
        "1.13.10",
        ("MIT",),
    ),
    (
        "usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec",
        "rack",
        "2.2.22",
        ("MIT",),
    ),
    (
        "usr/share/rubygems-integration/all/specifications/webrick-1.8.1.gemspec",
        "webrick",
        "1.8.1",
        ("Ruby", "BSD-2-Clause"),
    ),
]


def ruby_load_all(paths: list[Path]) -> list[tuple[str, str, tuple[str, ...], str]]:
    """RubyGems' own reading of gemspec files: name, version, licenses, platform."""
    assert RUBY is not None
    script = (
        "ARGV.each { |p| s = Gem::Specification.load(p); "
        'puts [s.name, s.version.to_s, s.licenses.join(","), s.platform.to_s].join("\\t") }'
    )
    out = subprocess.run(
        [RUBY, "-e", script, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    rows = []
    for line in out.splitlines():
        name, version, licenses, platform = line.split("\t")
        rows.append((name, version, tuple(x for x in licenses.split(",") if x), platform))
    assert len(rows) == len(paths)
    return rows


def ruby_load(path: Path) -> tuple[str, str, tuple[str, ...], str]:
    return ruby_load_all([path])[0]


@pytest.mark.parametrize(("path", "name", "version", "licenses"), REAL, ids=[r[1] for r in REAL])
def test_real_gemspec_reads_name_version_licenses(
    path: str, name: str, version: str, licenses: tuple[str, ...]
) -> None:
    result = CAT.parse(path, (DATA / path).read_bytes())
    assert result.warnings == []
    (pkg,) = result.packages
    assert (pkg.ecosystem, pkg.name, pkg.version, pkg.licenses) == ("gem", name, version, licenses)
    assert pkg.purl == f"pkg:gem/{name}@{version}"
    assert pkg.path == path
    assert (pkg.extra.get("default_gem") == "true") == ("/specifications/default/" in path)


@pytest.mark.skipif(RUBY is None, reason="ruby is not installed (Debian package ruby)")
@pytest.mark.parametrize(("path", "name", "version", "licenses"), REAL, ids=[r[1] for r in REAL])
def test_recorded_expectations_agree_with_rubygems(
    path: str, name: str, version: str, licenses: tuple[str, ...]
) -> None:
    assert ruby_load(DATA / path) == (name, version, licenses, "ruby")


def _installed_gemspecs() -> list[Path]:
    roots = [
        Path("/usr/lib/ruby/gems"),
        Path("/usr/share/rubygems-integration"),
        Path("/var/lib/gems"),
        Path("/usr/lib/x86_64-linux-gnu/rubygems-integration"),
    ]
    return sorted(p for r in roots if r.is_dir() for p in r.rglob("specifications/**/*.gemspec"))


@pytest.mark.skipif(RUBY is None, reason="ruby is not installed (Debian package ruby)")
def test_every_installed_gemspec_reads_as_rubygems_reads_it() -> None:
    specs = _installed_gemspecs()
    assert len(specs) >= 20  # Ruby's default and bundled gems at least
    for spec, (name, version, licenses, _platform) in zip(specs, ruby_load_all(specs), strict=True):
        rel = str(spec).lstrip("/")
        result = CAT.parse(rel, spec.read_bytes())
        assert result.warnings == [], rel
        (pkg,) = result.packages
        assert (pkg.name, pkg.version, pkg.licenses) == (name, version, licenses), rel


# gemspecs RubyGems writes itself: (attributes set in Ruby, name, version, licenses, purl)
WRITTEN = [
    (
        's.name = "nokogiri"; s.version = "1.13.6"; s.platform = "x86_64-linux"; s.license = "MIT"',
        "nokogiri",
        "1.13.6",
        ("MIT",),
        "pkg:gem/nokogiri@1.13.6?platform=x86_64-linux",
    ),
    (
        's.name = "rails"; s.version = "7.1.0.beta1"; s.licenses = ["MIT", "Ruby"]',
        "rails",
        "7.1.0.beta1",
        ("MIT", "Ruby"),
        "pkg:gem/rails@7.1.0.beta1",
    ),
    (
        's.name = "grpc"; s.version = Gem::Version.new("1.50.0"); s.platform = Gem::Platform.new("x86_64-linux-musl"); s.summary = %q{a "quoted" \\u00e9}',
        "grpc",
        "1.50.0",
        (),
        "pkg:gem/grpc@1.50.0?platform=x86_64-linux-musl",
    ),
]


@pytest.mark.skipif(RUBY is None, reason="ruby is not installed (Debian package ruby)")
@pytest.mark.parametrize(("attrs", "name", "version", "licenses", "url"), WRITTEN)
def test_gemspecs_written_by_rubygems(
    tmp_path: Path, attrs: str, name: str, version: str, licenses: tuple[str, ...], url: str
) -> None:
    assert RUBY is not None
    script = f"s = Gem::Specification.new {{ |s| {attrs}; s.authors = ['x']; s.summary ||= 'x' }}; print s.to_ruby"
    text = subprocess.run(
        [RUBY, "-e", script], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    spec_file = tmp_path / "specifications" / f"{name}-{version}.gemspec"
    spec_file.parent.mkdir()
    spec_file.write_text(text)
    result = CAT.parse(f"usr/local/bundle/specifications/{spec_file.name}", text.encode())
    assert result.warnings == []
    (pkg,) = result.packages
    assert (pkg.name, pkg.version, pkg.licenses, pkg.purl) == (name, version, licenses, url)
    assert ruby_load(spec_file)[:3] == (name, version, licenses)


# hand-written forms: older RubyGems output and Gem::Version calls; RubyGems agrees (below)
LEGACY = [
    (
        "# -*- encoding: utf-8 -*-\n\nGem::Specification.new do |s|\n  s.name = %q{rack}\n"
        '  s.version = "1.0.0"\n\n  s.required_rubygems_version = Gem::Requirement.new(">= 0") '
        "if s.respond_to? :required_rubygems_version=\n  s.authors = [%q{Christian Neukirchen}]\n"
        "  s.date = %q{2009-04-25}\n  s.summary = %q{a modular Ruby webserver interface}\nend\n",
        ("rack", "1.0.0", ()),
    ),
    (
        "Gem::Specification.new do |spec|\n  spec.name    = 'my_gem'\n"
        "  spec.version = Gem::Version.new('2.0.1')\n  spec.license = 'Apache-2.0'\n"
        "  spec.authors = ['x']\n  spec.summary = 'x'\nend\n",
        ("my_gem", "2.0.1", ("Apache-2.0",)),
    ),
    (
        'Gem::Specification.new do |s|\n  s.name = "multi".freeze\n  s.version = "0.3.0"\n'
        '  s.licenses = ["MIT".freeze,\n    "GPL-2.0".freeze]\n  s.authors = ["x"]\n  s.summary = "x"\nend\n',
        ("multi", "0.3.0", ("MIT", "GPL-2.0")),
    ),
]


@pytest.mark.parametrize(
    ("text", "wanted"), LEGACY, ids=["rubygems-1.3-percent-q", "version-new", "multiline-array"]
)
def test_older_and_hand_written_forms(
    tmp_path: Path, text: str, wanted: tuple[str, str, tuple[str, ...]]
) -> None:
    spec = parse_gemspec(text)
    assert (spec.name, spec.version, tuple(spec.licenses)) == wanted
    if RUBY is not None:
        f = tmp_path / "x.gemspec"
        f.write_text(text)
        assert ruby_load(f)[:3] == wanted


def test_stub_line_and_file_name_fill_in_a_missing_version() -> None:
    text = "# -*- encoding: utf-8 -*-\n# stub: puma 6.4.0 ruby lib\n\nGem::Specification.new do |s|\n  s.name = compute_name\nend\n"
    (pkg,) = CAT.parse("usr/local/bundle/specifications/puma-6.4.0.gemspec", text.encode()).packages
    assert (pkg.name, pkg.version) == ("puma", "6.4.0")
    text = "Gem::Specification.new do |s|\n  s.name = 'thor'\n  s.version = VERSION\nend\n"
    (pkg,) = CAT.parse(
        "var/lib/gems/3.1.0/specifications/thor-1.2.1.gemspec", text.encode()
    ).packages
    assert (pkg.name, pkg.version) == ("thor", "1.2.1")


@pytest.mark.parametrize(
    ("label", "content", "warning"),
    [
        ("empty", b"", "no gem name found"),
        ("not a gemspec", b"puts 'hello'\n" * 10, "no gem name found"),
        ("binary", bytes(range(256)) * 4, "invalid UTF-8 at byte 128"),
        (
            "unterminated string",
            b'Gem::Specification.new do |s|\n  s.name = "rake\n',
            "no gem name found",
        ),
    ],
)
def test_unreadable_gemspec_is_a_warning(label: str, content: bytes, warning: str) -> None:
    result = CAT.parse("usr/lib/ruby/gems/3.1.0/specifications/x.gemspec", content)
    assert result.packages == [], label
    assert result.warnings, label
    assert all(
        w.startswith("usr/lib/ruby/gems/3.1.0/specifications/x.gemspec: ") for w in result.warnings
    )
    assert any(warning in w for w in result.warnings), result.warnings


def test_invalid_utf8_is_decoded_with_replacement_and_still_read() -> None:
    path = "usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec"
    data = (DATA / path).read_bytes().replace(b"Make-like", b"Make\xfflike")
    result = CAT.parse(path, data)
    assert [(p.name, p.version) for p in result.packages] == [("rake", "13.0.6")]
    assert len(result.warnings) == 1 and "invalid UTF-8" in result.warnings[0]


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", True),
        ("usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec", True),
        ("usr/local/bundle/specifications/rails-7.0.4.gemspec", True),
        ("var/lib/gems/3.1.0/specifications/puma-6.4.0.gemspec", True),
        ("usr/lib/ruby/gems/3.1.0/gems/rake-13.0.6/rake.gemspec", False),  # a gem's source
        ("app/myapp.gemspec", False),
        ("usr/lib/ruby/gems/3.1.0/specifications/README", False),
    ],
)
def test_match_wants_installed_specifications_only(path: str, wanted: bool) -> None:
    assert CAT.match(path, 0o644, 2000) is wanted
