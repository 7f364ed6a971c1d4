"""``customhouse versions compare`` through click, and once as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from customhouse.cli.main import cli

REPO = Path(__file__).resolve().parents[3]


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["versions", "compare", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("scheme", "a", "b", "out"),
    [
        ("dpkg", "1.0~rc1", "1.0", "<"),
        ("dpkg", "1:1.0", "2.0", ">"),
        ("apk", "1.2.3-r1", "1.2.3-r1", "="),
        ("rpm", "1.0^git1", "1.0", ">"),
        ("pep440", "1.0rc1", "1.0", "<"),
        ("semver", "1.0.0", "1.0.0+build", "="),
        ("maven", "1.0-SNAPSHOT", "1.0", "<"),
        ("gem", "1.0.0.pre", "1.0.0", "<"),
        ("go", "v2.0.0+incompatible", "v1.9.9", ">"),
    ],
)
def test_compare_prints_one_symbol(scheme: str, a: str, b: str, out: str) -> None:
    code, stdout, _ = invoke(scheme, a, b)
    assert (code, stdout) == (0, out + "\n")


def test_stdin_prints_one_result_per_pair() -> None:
    code, stdout, _ = invoke("dpkg", "--stdin", stdin="1.0 2.0\n\n2:1 1:9\n1.0-0 1.0\n")
    assert code == 0
    assert stdout.splitlines() == ["<", ">", "="]


def test_invalid_version_is_an_input_error_naming_version_and_scheme() -> None:
    result = CliRunner().invoke(cli, ["versions", "compare", "semver", "1.0", "1.0.0"])
    from customhouse.versions import InvalidVersion

    assert isinstance(result.exception, InvalidVersion)
    assert "semver" in str(result.exception) and "'1.0'" in str(result.exception)


def test_malformed_stdin_line_is_a_usage_error() -> None:
    from customhouse.errors import UsageError

    result = CliRunner().invoke(cli, ["versions", "compare", "rpm", "--stdin"], input="1.0\n")
    assert isinstance(result.exception, UsageError)


def test_unknown_scheme_is_refused() -> None:
    code, _, stderr = invoke("cargo", "1", "2")
    assert code == 2 and "cargo" in stderr


def test_installed_command_prints_less_than_for_tilde() -> None:
    exe = REPO / ".venv" / "bin" / "customhouse"
    if not exe.exists():
        pytest.skip(f"{exe} is not installed")
    proc = subprocess.run(
        [str(exe), "versions", "compare", "dpkg", "1.0~rc1", "1.0"], capture_output=True, text=True
    )
    assert (proc.returncode, proc.stdout) == (0, "<\n")


def test_installed_command_exits_2_on_invalid_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "customhouse", "versions", "compare", "apk", "1.0_foo", "1.0"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "invalid apk version '1.0_foo'" in proc.stderr
