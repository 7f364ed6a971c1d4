"""``customhouse lint``: formats, exit codes, SARIF validity."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from customhouse.cli.lint import lint_cmd
from customhouse.cli.main import main

DATA = Path(__file__).resolve().parents[2] / "data"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(lint_cmd, list(args))
    return result.exit_code, result.output


def test_json_output_and_gate() -> None:
    code, out = run("--format", "json", str(DATA / "dockerfiles" / "CH302.bad.Dockerfile"))
    assert code == 1
    data = json.loads(out)
    assert any(f["rule"] == "CH302" and f["severity"] == "critical" for f in data["findings"])


def test_fail_on_above_every_finding_exits_zero() -> None:
    code, _ = run("--fail-on", "critical", str(DATA / "dockerfiles" / "CH102.bad.Dockerfile"))
    assert code == 0


def test_clean_file_table_output() -> None:
    code, out = run("--fail-on", "high", str(DATA / "dockerfiles" / "CH102.good.Dockerfile"))
    assert code == 0
    assert "no findings" in out


def test_sarif_output_validates_against_the_sarif_2_1_0_schema() -> None:
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


def test_config_option_is_applied(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ignore: [CH302]\nfail_on: critical\n")
    code, out = run(
        "--config", str(cfg), "--format", "json", str(DATA / "dockerfiles" / "CH302.bad.Dockerfile")
    )
    assert code == 0
    assert "CH302" not in {f["rule"] for f in json.loads(out)["findings"]}
