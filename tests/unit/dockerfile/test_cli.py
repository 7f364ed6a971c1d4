"""``customhouse lint``: formats, exit codes, SARIF validity."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from customhouse.cli.main import main

DATA = Path(__file__).resolve().parents[2] / "data"

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``customhouse lint ARGS`` in process: (exit status, stdout)."""

    def invoke(*args: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as info:
            main(["lint", *args])
        assert isinstance(info.value.code, int)
        return info.value.code, capsys.readouterr().out

    return invoke


def test_json_output_and_gate(run: Run) -> None:
    code, out = run("--format", "json", str(DATA / "dockerfiles" / "CH302.bad.Dockerfile"))
    assert code == 1
    data = json.loads(out)
    assert any(f["rule"] == "CH302" and f["severity"] == "critical" for f in data["findings"])


def test_fail_on_above_every_finding_exits_zero(run: Run) -> None:
    code, _ = run("--fail-on", "critical", str(DATA / "dockerfiles" / "CH102.bad.Dockerfile"))
    assert code == 0


def test_clean_file_table_output(run: Run) -> None:
    code, out = run("--fail-on", "high", str(DATA / "dockerfiles" / "CH102.good.Dockerfile"))
    assert code == 0
    assert "no findings" in out


def test_sarif_output_validates_against_the_sarif_2_1_0_schema(run: Run) -> None:
    files = sorted(str(p) for p in (DATA / "dockerfiles").glob("*.bad.Dockerfile"))
    code, out = run("--format", "sarif", *files)
    assert code == 1
    log = json.loads(out)
    schema = json.loads((DATA / "schemas" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    assert log["runs"][0]["results"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "no such file"), ("FROM a\nRUN <<EOF\n", "unterminated heredoc")],
)
def test_missing_or_broken_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, needle: str
) -> None:
    path = tmp_path / "Dockerfile"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as info:
        main(["lint", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert str(path) in err and needle in err


def test_config_option_is_applied(run: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ignore: [CH302]\nfail_on: critical\n")
    code, out = run(
        "--config", str(cfg), "--format", "json", str(DATA / "dockerfiles" / "CH302.bad.Dockerfile")
    )
    assert code == 0
    assert "CH302" not in {f["rule"] for f in json.loads(out)["findings"]}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "give at least one Dockerfile, or --image IMAGE"),
        (["--fail-on", "severe", "Dockerfile"], "invalid choice: 'severe'"),
        (["--bogus", "Dockerfile"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_2_naming_the_problem(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["lint", *args])
    assert info.value.code == 2
    assert needle in capsys.readouterr().err


def test_a_directory_given_as_dockerfile_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["lint", str(tmp_path)])
    assert info.value.code == 2
    assert f"file {str(tmp_path)!r} is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["HIGH", "High", "high"])
def test_severity_choices_are_case_insensitive(run: Run, spelling: str) -> None:
    # CH302.bad has a critical finding: every spelling of "high" gates on it
    code, _ = run("--fail-on", spelling, str(DATA / "dockerfiles" / "CH302.bad.Dockerfile"))
    assert code == 1
