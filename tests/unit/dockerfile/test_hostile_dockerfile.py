"""Hostile Dockerfiles and image histories: deep nesting, long lines, huge files.

Each input is small enough to run fast; results are checked exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from customhouse.dockerfile import (
    DockerfileParseError,
    lint_history,
    lint_text,
    parse_path,
    parse_text,
)
from customhouse.dockerfile._shell import _scan_balanced, parse_script
from customhouse.dockerfile.lint import _history_instruction
from customhouse.dockerfile.parse import _MAX_BYTES

# --- deep "$( nesting: no RecursionError --------------------------------------------


def test_scan_balanced_deep_nesting_in_double_quotes() -> None:
    depth = 3000  # well past the default recursion limit
    s = "$(" + '"$(' * depth + ')"' * depth + ") tail"
    assert _scan_balanced(s, 2, "(", ")") == len(s) - len(" tail")


def test_scan_balanced_unbalanced_deep_nesting_runs_to_the_end() -> None:
    s = "$(" + '"$(' * 3000
    assert _scan_balanced(s, 2, "(", ")") == len(s)


def test_scan_balanced_nested_results_unchanged() -> None:
    s = '$(echo "$(date "+%s")" \\) \')\' ) rest'
    assert s[: _scan_balanced(s, 2, "(", ")")] == '$(echo "$(date "+%s")" \\) \')\' )'
    t = '${a:-"$(printf "}")"} rest'
    assert t[: _scan_balanced(t, 2, "{", "}")] == '${a:-"$(printf "}")"}'


def test_parse_script_deep_unbalanced_substitution() -> None:
    commands = parse_script("echo " + '"$(' * 2000)
    assert commands[0].name == "echo"


def test_lint_deep_unbalanced_substitution() -> None:
    findings = lint_text("FROM alpine:3.20\nRUN echo " + '"$(' * 2000 + "\n")
    assert [(f.line, f.rule) for f in findings] == [(1, "CH102"), (1, "CH501"), (1, "CH603")]


# --- long lines: parser directives and ignore comments -------------------------------


def test_directive_value_with_long_inner_whitespace() -> None:
    value = "y" + " " * 5000 + "x"
    df = parse_text("#a=" + value + "   \nFROM alpine:3.20\n")
    assert df.directives == (("a", value),)


def test_directive_value_is_stripped() -> None:
    df = parse_text("# escape = `  \t\nFROM alpine:3.20\nRUN dir `\n  c:\\foo\n")
    assert df.directives == (("escape", "`"),)
    assert df.escape == "`"


def test_many_hashes_before_an_incomplete_ignore() -> None:
    df = parse_text("FROM alpine:3.20\n" + "#" * 5000 + "customhouse:ignore\nRUN a\n")
    assert df.ignores == ()
    assert df.comment_lines == frozenset({2})


@pytest.mark.parametrize(
    ("comment", "ids"),
    [
        ("# customhouse:ignore=ch501, CH603", {"CH501", "CH603"}),
        ("## x customhouse:ignore=-- customhouse:ignore=CH501", {"CH501"}),
        ("#customhouse:ignore=CH501 # customhouse:ignore=CH603", {"CH501"}),
    ],
)
def test_ignore_comment_forms(comment: str, ids: set[str]) -> None:
    df = parse_text(f"FROM alpine:3.20\n{comment}\nUSER root\n")
    assert df.ignores == ((2, frozenset(ids)),)


@pytest.mark.parametrize(
    "line",
    [
        "RUN echo customhouse:ignore=CH501",  # no '#' at all
        "RUN echo customhouse:ignore=CH501 # after",  # the tag is before the '#'
        "# customhouse:ignore=-",  # no id
        "#" * 3000 + "customhouse:ignore=",
    ],
)
def test_not_an_ignore_comment(line: str) -> None:
    df = parse_text(f"FROM alpine:3.20\n{line}\nUSER root\n")
    assert df.ignores == ()


# --- image history ENV/LABEL pairs ---------------------------------------------------


def test_history_env_long_token_without_equals() -> None:
    (ins,) = _history_instruction("/bin/sh -c #(nop) ENV " + "a" * 20000 + " k=v", 0)
    assert ins.args == ("k", "v")
    findings = lint_history(["/bin/sh -c #(nop) ENV " + "a" * 20000])
    assert [f.rule for f in findings] == ["CH501"]


def test_history_env_pairs_unchanged() -> None:
    (ins,) = _history_instruction('/bin/sh -c #(nop) ENV a=1 b="x y" ==z c d= e=f', 0)
    assert ins.args == ("a", "1", "b", '"x y"', "=", "z", "d", "", "e", "f")


# --- size cap --------------------------------------------------------------------------


def test_parse_text_rejects_more_than_the_cap() -> None:
    text = "FROM alpine:3.20\n" + "RUN a\n" * (_MAX_BYTES // 6 + 1)
    with pytest.raises(DockerfileParseError) as e:
        parse_text(text, path="big/Dockerfile")
    assert e.value.path == "big/Dockerfile"
    assert e.value.reason == f"Dockerfile is larger than the {_MAX_BYTES} bytes allowed"


def test_parse_text_cap_counts_utf8_bytes() -> None:
    text = "FROM alpine:3.20\nLABEL x=" + "é" * (_MAX_BYTES // 2) + "\n"
    assert len(text) < _MAX_BYTES
    with pytest.raises(DockerfileParseError, match="larger than"):
        parse_text(text)


def test_lint_text_rejects_more_than_the_cap() -> None:
    with pytest.raises(DockerfileParseError, match="larger than"):
        lint_text("FROM alpine:3.20\n" + "RUN a\n" * (_MAX_BYTES // 6 + 1))


def test_parse_path_rejects_more_than_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM alpine:3.20\n" + b"RUN a\n" * (_MAX_BYTES // 6 + 1))
    with pytest.raises(DockerfileParseError, match="allowed"):
        parse_path(path)
