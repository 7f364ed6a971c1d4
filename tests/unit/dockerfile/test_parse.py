"""The BuildKit adapter: stages, ARG scoping, substitution, forms, heredocs, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from customhouse.dockerfile import DockerfileParseError, parse_path, parse_text
from customhouse.dockerfile.parse import expand, word_value


def test_stages_names_platform_and_global_arg_substitution() -> None:
    df = parse_text(
        "# syntax=docker/dockerfile:1\n"
        "ARG BASE=debian\nARG TAG=bookworm\n"
        "FROM --platform=$BUILDPLATFORM ${BASE}:${TAG} AS Build\n"
        "RUN echo hi\n"
        "FROM build\nCOPY --from=Build /a /b\n"
    )
    assert df.directive("syntax") == "docker/dockerfile:1"
    assert [a.name for a in df.global_args] == ["BASE", "TAG"]
    first, second = df.stages
    assert (first.name, first.base, first.platform) == (
        "build",
        "debian:bookworm",
        "$BUILDPLATFORM",
    )
    assert first.base_text == "${BASE}:${TAG}"
    assert second.parent == 0 and second.base == "build"
    assert [i.keyword for i in first.instructions] == ["RUN"]


def test_arg_without_default_leaves_the_base_unresolved() -> None:
    df = parse_text("ARG IMAGE\nFROM ${IMAGE}\n")
    assert df.stages[0].base is None


def test_stage_arg_does_not_reach_from() -> None:
    df = parse_text("FROM alpine:3.20\nARG V=1\nFROM alpine:${V}\n")
    assert df.stages[1].base is None


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("${A}", {"A": "x"}, ("x", True)),
        ("$A/$B", {"A": "x", "B": "y"}, ("x/y", True)),
        ("${A:-def}", {}, ("def", True)),
        ("${A:-def}", {"A": ""}, ("def", True)),
        ("${A-def}", {"A": ""}, ("", True)),
        ("${A:+alt}", {"A": "x"}, ("alt", True)),
        ("${A:+alt}", {}, ("", True)),
        ("img:$MISSING", {}, ("img:", False)),
        ('"quoted":1', {}, ("quoted:1", True)),
    ],
)
def test_variable_expansion_follows_dockerfile_rules(
    text: str, values: dict[str, str], expected: tuple[str, bool]
) -> None:
    assert expand(text, values) == expected


def test_json_and_shell_forms() -> None:
    df = parse_text('FROM a\nRUN ["sh", "-c", "echo"]\nRUN echo x\nCMD echo y\n')
    run_json, run_shell, cmd = df.stages[0].instructions
    assert run_json.json and run_json.args == ("sh", "-c", "echo")
    assert not run_shell.json and run_shell.args == ("echo x",)
    assert cmd.command_text == "echo y"


def test_heredoc_and_its_lines() -> None:
    df = parse_text("FROM a\nRUN <<EOF\nset -e\ncurl -k https://x\nEOF\n")
    run = df.stages[0].instructions[0]
    assert run.heredocs[0].name == "EOF"
    assert run.heredocs[0].content == "set -e\ncurl -k https://x\n"
    assert (run.start_line, run.end_line) == (2, 5)


def test_escape_directive_changes_the_continuation_character() -> None:
    df = parse_text("# escape=`\nFROM a\nRUN dir `\n  c:\\foo\n")
    assert df.escape == "`"
    run = df.stages[0].instructions[0]
    assert run.args == ("dir   c:\\foo",)
    assert (run.start_line, run.end_line) == (3, 4)


def test_continuation_lines_map_back_to_their_source_line() -> None:
    df = parse_text("FROM a\nRUN set -eux; \\\n  apt-get update; \\\n# note\n  curl -k https://x\n")
    run = df.stages[0].instructions[0]
    assert run.line_at(run.original.index("curl")) == 5
    assert run.line_at(run.original.index("apt-get")) == 3


def test_words_lose_their_quotes() -> None:
    assert word_value("\"a b\"'c'\\ d") == "a bc d"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("FROM a\nRUN <<EOF\nno end\n", 2, "unterminated heredoc"),
        ("FROM a\nRUN echo \\\n  hi\nFORM b\n", 4, "unknown instruction"),
        ("RUN echo\nFROM a\n", 1, "before the first FROM"),
        ("FROM a b\n", 1, "one or three arguments"),
        ("FROM a\nCOPY x\n", 2, "at least two arguments"),
        ("# only a comment\n", 1, "no instructions"),
    ],
)
def test_parse_errors_name_the_file_and_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(DockerfileParseError) as info:
        parse_text(text, path="ctx/Dockerfile")
    assert info.value.path == "ctx/Dockerfile"
    assert info.value.line == line
    assert reason in str(info.value)
    assert str(info.value).startswith(f"ctx/Dockerfile:{line}: ")


def test_missing_file_is_a_parse_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DockerfileParseError, match="no such file") as info:
        parse_path(tmp_path / "nope.Dockerfile")
    assert info.value.exit_code == 2


def test_ignore_comments_are_collected() -> None:
    df = parse_text("FROM a\n# customhouse:ignore=CH501, ch603\nUSER root\n")
    assert df.ignores == ((2, frozenset({"CH501", "CH603"})),)
