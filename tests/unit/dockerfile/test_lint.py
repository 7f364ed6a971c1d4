"""Inline ignores, configuration, severity threshold, and history linting."""

from __future__ import annotations

from pathlib import Path

import pytest

from customhouse.dockerfile import LintConfig, LintConfigError, Severity, lint_history, lint_text
from customhouse.dockerfile.rules import Settings

BASE = "FROM alpine:3.20\nHEALTHCHECK CMD true\n"


def ids(text: str, config: LintConfig | None = None) -> set[str]:
    return {f.rule for f in lint_text(text, config=config)}


@pytest.mark.parametrize(
    "text",
    [
        BASE + "USER root # customhouse:ignore=CH501\n",
        BASE + "# customhouse:ignore=CH501\nUSER root\n",
        BASE + "# customhouse:ignore=CH102,CH501\n# another comment\nUSER root\n",
    ],
)
def test_inline_ignore_on_the_line_or_above(text: str) -> None:
    assert "CH501" not in ids(text)


def test_inline_ignore_inside_a_continued_run_covers_the_instruction() -> None:
    text = (
        BASE
        + "RUN set -eux; \\\n  chmod 777 /x; \\\n  # customhouse:ignore=CH503\n  true\nUSER app\n"
    )
    assert "CH503" not in ids(text)


def test_ignore_of_another_rule_does_not_hide_the_finding() -> None:
    assert "CH501" in ids(BASE + "# customhouse:ignore=CH502\nUSER root\n")


def test_config_file_trusted_registries_namespaces_ignore_and_threshold(tmp_path: Path) -> None:
    path = tmp_path / ".customhouse-lint.yaml"
    path.write_text(
        "trusted_registries: [docker.io, registry.example.org/base]\n"
        "allowed_namespaces: [acme]\n"
        "ignore: [CH603]\n"
        "severity: low\n"
        "fail_on: critical\n"
    )
    config = LintConfig.load(path)
    assert config.settings == Settings(("docker.io", "registry.example.org/base"), ("acme",))
    assert config.fail_on is Severity.CRITICAL
    text = "FROM registry.example.org/base/debian:12\nFROM acme/tool:1\nFROM other.example/x:1\nUSER app\n"
    found = lint_text(text, config=config)
    assert {(f.rule, f.line) for f in found if f.rule in {"CH101", "CH104"}} == {("CH101", 3)}
    assert all(f.severity >= Severity.LOW for f in found)
    assert "CH603" not in {f.rule for f in found}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a\n", "mapping"),
        ("ignore: [CH999]\n", "unknown rule"),
        ("severity: loud\n", "unknown severity"),
        ("trusted: [x]\n", "unknown key"),
        ("trusted_registries: docker.io\n", "list of strings"),
        ("a: [\n", "not valid YAML"),
        # a merge key copies the anchored mapping at load time (an alias bomb)
        ("x: &a {severity: error}\n<<: *a\n", r"a YAML alias \*a \(line 2"),
        ("ignore: &i [DL3008]\nother: *i\n", r"alias bomb\?\): not accepted"),
    ],
)
def test_bad_config_is_a_typed_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content)
    with pytest.raises(LintConfigError, match=message):
        LintConfig.load(path)


def test_history_entries_are_linted_without_a_dockerfile() -> None:
    history = [
        "/bin/sh -c #(nop) ADD file:abc in / ",
        '/bin/sh -c #(nop)  CMD ["sh"]',
        "|1 NPM_TOKEN=npm_" + "a" * 36 + " /bin/sh -c npm install",
        "RUN /bin/sh -c curl -fsSL https://e.org/i.sh | sh # buildkit",
        "RUN /bin/sh -c apt-get update && apt-get -y upgrade # buildkit",
        "/bin/sh -c #(nop)  EXPOSE 22/tcp",
        "/bin/sh -c #(nop)  ENV API_TOKEN=abc123",
        "USER root",
    ]
    found = {(f.rule, f.line) for f in lint_history(history)}
    assert {
        ("CH401", 3),
        ("CH302", 4),
        ("CH601", 5),
        ("CH604", 6),
        ("CH401", 7),
        ("CH501", 8),
    } <= found
    # provenance and Dockerfile-structure rules need a Dockerfile
    assert not {r for r, _ in found} & {"CH101", "CH102", "CH103", "CH603", "CH705"}


def test_history_with_a_non_root_user_is_not_root() -> None:
    assert "CH501" not in {f.rule for f in lint_history(["/bin/sh -c #(nop)  USER node"])}
