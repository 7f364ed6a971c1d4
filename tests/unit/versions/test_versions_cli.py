"""``customhouse versions compare`` in process through ``main``, and as a real process."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from customhouse.cli.main import main

REPO = Path(__file__).resolve().parents[3]

Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def invoke(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """``customhouse versions compare ARGS`` with ``stdin`` as standard input:
    (exit status, stdout, stderr)."""

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        with pytest.raises(SystemExit) as info:
            main(["versions", "compare", *args])
        assert isinstance(info.value.code, int)
        out, err = capsys.readouterr()
        return info.value.code, out, err

    return run


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
def test_compare_prints_one_symbol(invoke: Invoke, scheme: str, a: str, b: str, out: str) -> None:
    code, stdout, _ = invoke(scheme, a, b)
    assert (code, stdout) == (0, out + "\n")


def test_stdin_prints_one_result_per_pair(invoke: Invoke) -> None:
    code, stdout, _ = invoke("dpkg", "--stdin", stdin="1.0 2.0\n\n2:1 1:9\n1.0-0 1.0\n")
    assert code == 0
    assert stdout.splitlines() == ["<", ">", "="]


def test_invalid_version_is_an_input_error_naming_version_and_scheme(invoke: Invoke) -> None:
    code, stdout, stderr = invoke("semver", "1.0", "1.0.0")
    assert (code, stdout) == (2, "")
    assert "semver" in stderr and "'1.0'" in stderr


def test_malformed_stdin_line_is_a_usage_error(invoke: Invoke) -> None:
    code, _, stderr = invoke("rpm", "--stdin", stdin="1.0\n")
    assert code == 2 and "stdin line 1: expected 'A B'" in stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["dpkg", "1.0"], "give two versions A and B, or --stdin"),
        (["dpkg", "1.0", "2.0", "--stdin"], "with --stdin, give no versions"),
        (["dpkg", "1.0", "2.0", "3.0"], "unrecognized arguments: 3.0"),
    ],
)
def test_wrong_number_of_versions_is_a_usage_error(
    invoke: Invoke, args: list[str], needle: str
) -> None:
    code, _, stderr = invoke(*args)
    assert code == 2 and needle in stderr


def test_unknown_scheme_is_refused(invoke: Invoke) -> None:
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
