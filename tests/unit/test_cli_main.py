"""The command-line layer: lazy loading, environment defaults, help and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from customhouse import __version__
from customhouse.cli.main import COMMANDS, main, parse_args

DB_SUBCOMMANDS = ("export", "import", "pull", "push", "search", "show", "status", "update")

# Runs customhouse ARGV in a fresh interpreter, then reports which modules it loaded.
_LOADED = """
import json, sys
from customhouse.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
sys.stdout.flush()
sys.stderr.write("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""


@pytest.fixture(autouse=True)
def _no_customhouse_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CUSTOMHOUSE_"):
            monkeypatch.delenv(name)


def loaded_modules(*argv: str) -> tuple[int, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOMHOUSE_")}
    proc = subprocess.run(
        [sys.executable, "-c", _LOADED, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    report = json.loads(proc.stderr.splitlines()[-1])
    return report["code"], set(report["modules"])


@pytest.mark.parametrize(
    ("argv", "chosen"),
    [
        (["--help"], None),
        (["--version"], None),
        (["sbom", "--help"], "customhouse.cli.sbom"),
        (["db", "update", "--help"], "customhouse.cli.db"),
        (["versions", "compare", "dpkg", "1.0~rc1", "1.0"], "customhouse.cli.versions"),
    ],
)
def test_only_the_chosen_command_module_is_imported(argv: list[str], chosen: str | None) -> None:
    code, modules = loaded_modules(*argv)
    assert code == 0
    command_modules = {module for module, _ in COMMANDS.values()}
    assert modules & command_modules == ({chosen} if chosen else set())
    assert not {m for m in modules if m.split(".")[0] in ("click", "rich")}


def test_top_level_help_lists_every_command_with_its_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: customhouse [OPTIONS] COMMAND [ARGS]...")
    assert "CUSTOMHOUSE_<COMMAND>_<OPTION>" in out
    for name, (_, summary) in COMMANDS.items():
        assert f"  {name}" in out
        assert " ".join(summary.split()[:4]) in " ".join(out.split()), name


@pytest.mark.parametrize(
    "argv",
    [[name] for name in COMMANDS]
    + [["db", sub] for sub in DB_SUBCOMMANDS]
    + [["versions", "compare"]],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("-h", "--help"):
        with pytest.raises(SystemExit) as info:
            main([*argv, flag])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"Usage: customhouse {' '.join(argv)} [OPTIONS]")
        assert "-h, --help" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"customhouse, version {__version__}\n"


@pytest.mark.parametrize(("argv", "usage"), [([], "customhouse"), (["db"], "customhouse db")])
def test_missing_command_prints_help_on_stderr_and_exits_2(
    argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"Usage: {usage} [OPTIONS] COMMAND [ARGS]...") and "Commands:" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["db", "bogus"], "invalid choice: 'bogus'"),
        (["sbom"], "the following arguments are required: IMAGE"),
        (["scan", "--format", "yaml", "x"], "argument --format: invalid choice: 'yaml'"),
        (["sbom", "--bogus", "x"], "customhouse sbom: error: unrecognized arguments: --bogus"),
        (["sbom", "--form", "json", "x"], "unrecognized arguments: --form"),  # no abbreviations
        (["db", "update", "--retries", "0"], "argument --retries: 0 is not in the range 1<=x<=20"),
        (["db", "update", "--retries", "x"], "argument --retries: 'x' is not a valid integer"),
        (["export", "x"], "the following arguments are required: -o/--output"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_2_with_one_line_naming_the_problem(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert needle in err.splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["scan", "a", "--db", "/x.db", "b"], {"images": ["a", "b"], "db_path": "/x.db"}),
        (["scan", "--format", "json", "a", "b", "--force"], {"images": ["a", "b"], "force": True}),
        (["versions", "compare", "--stdin", "dpkg"], {"scheme": "dpkg", "from_stdin": True}),
        (["sbom", "-o", "out.json", "img", "--no-cache"], {"image": "img", "no_cache": True}),
        (
            ["db", "import", "a.json", "--db", "/x.db", "b.zip"],
            {"paths": [Path("a.json"), Path("b.zip")]},
        ),
    ],
)
def test_options_and_arguments_mix_in_any_order(argv: list[str], expected: dict[str, Any]) -> None:
    _, args = parse_args(argv)
    assert {name: getattr(args, name) for name in expected} == expected


# --- environment defaults ------------------------------------------------------------


def _parsed(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str], attr: str
) -> Any:
    """The value ``attr`` gets from ``argv`` under the environment ``env``."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _, args = parse_args(argv)
    return getattr(args, attr)


@pytest.mark.parametrize(
    ("argv", "env", "attr", "expected"),
    [
        (
            ["inspect", "x"],
            {"CUSTOMHOUSE_INSPECT_PLATFORM": "linux/arm64"},
            "platform",
            "linux/arm64",
        ),
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_FMT": "json"}, "fmt", "json"),
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_FMT": ""}, "fmt", "table"),  # empty: unset
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_OFFLINE": "1"}, "offline", True),
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_OFFLINE": "Yes"}, "offline", True),
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_OFFLINE": "ON"}, "offline", True),
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_OFFLINE": "true"}, "offline", True),
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_OFFLINE": "off"}, "offline", False),
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_OFFLINE": "0"}, "offline", False),
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_OFFLINE": "no"}, "offline", False),
        (
            ["sbom", "x"],
            {"CUSTOMHOUSE_SBOM_INSECURE_REGISTRIES": " reg:5000  other\tthird "},
            "insecure_registries",
            ("reg:5000", "other", "third"),
        ),
        (
            ["scan", "x"],
            {"CUSTOMHOUSE_SCAN_VEX_FILES": os.pathsep.join(["a.json", "b.json"])},
            "vex_files",
            (Path("a.json"), Path("b.json")),
        ),
        (["scan", "x"], {"CUSTOMHOUSE_SCAN_FAIL_ON": "high"}, "fail_on", "HIGH"),
        (["scan", "x"], {"CUSTOMHOUSE_DB": "/a.db"}, "db_path", "/a.db"),
        (["scan", "x"], {"CUSTOMHOUSE_SCAN_DB_PATH": "/b.db"}, "db_path", "/b.db"),
        (["lint"], {"CUSTOMHOUSE_LINT_FAIL_ON": "HIGH"}, "fail_on", "high"),
        (["export", "x"], {"CUSTOMHOUSE_EXPORT_OUTPUT": "out.tar"}, "output", "out.tar"),
        (["db", "status"], {"CUSTOMHOUSE_DB_STATUS_MAX_AGE": "36h"}, "max_age", "36h"),
        (["db", "status"], {"CUSTOMHOUSE_DB_MAX_AGE": "2w"}, "max_age", "2w"),
        (["scan", "x"], {"CUSTOMHOUSE_DB_MAX_AGE": "36h"}, "max_age", "36h"),
        (["scan", "x"], {"CUSTOMHOUSE_SCAN_MAX_AGE": "3d"}, "max_age", "3d"),
        (
            ["db", "status"],
            {"CUSTOMHOUSE_DB": "/explicit.db", "CUSTOMHOUSE_DB_STATUS_DB_PATH": "/auto.db"},
            "db_path",
            "/explicit.db",
        ),
        (["db", "update"], {"CUSTOMHOUSE_DB_UPDATE_FULL": "y"}, "full", True),
        (
            ["db", "update"],
            {"CUSTOMHOUSE_DB_UPDATE_SOURCES": "debian osv:PyPI"},
            "sources",
            ("debian", "osv:PyPI"),
        ),
        (["db", "update"], {"CUSTOMHOUSE_FETCH_RETRIES": "7"}, "retries", 7),
        (["db", "update"], {"CUSTOMHOUSE_DB_UPDATE_RETRIES": "9"}, "retries", 9),
        (
            ["db", "update"],
            {"CUSTOMHOUSE_OSV_URL": "http://127.0.0.1:1/"},
            "osv_url",
            "http://127.0.0.1:1/",
        ),
        (["db", "update"], {"CUSTOMHOUSE_NVD_RATE": "10/30"}, "nvd_rate", "10/30"),
        (["db", "push", "r"], {"CUSTOMHOUSE_DB_PUSH_COMPRESS": "false"}, "compress", False),
        (
            ["versions", "compare", "dpkg"],
            {"CUSTOMHOUSE_VERSIONS_COMPARE_FROM_STDIN": "1"},
            "from_stdin",
            True,
        ),
    ],
)
def test_environment_sets_defaults(
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    attr: str,
    expected: Any,
) -> None:
    assert _parsed(monkeypatch, argv, env, attr) == expected


@pytest.mark.parametrize(
    ("argv", "env", "attr", "expected"),
    [
        (
            ["inspect", "--format", "table", "x"],
            {"CUSTOMHOUSE_INSPECT_FMT": "json"},
            "fmt",
            "table",
        ),
        (
            ["sbom", "--insecure-registry", "c", "x"],
            {"CUSTOMHOUSE_SBOM_INSECURE_REGISTRIES": "a b"},
            "insecure_registries",
            ("c",),
        ),
        (
            ["db", "push", "--compress", "r"],
            {"CUSTOMHOUSE_DB_PUSH_COMPRESS": "0"},
            "compress",
            True,
        ),
        (["db", "update", "--retries", "2"], {"CUSTOMHOUSE_FETCH_RETRIES": "7"}, "retries", 2),
        (
            ["secrets", "--fail-on", "high", "x"],
            {"CUSTOMHOUSE_SECRETS_FAIL_ON": "LOW"},
            "fail_on",
            "HIGH",
        ),
    ],
)
def test_command_line_wins_over_environment(
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    attr: str,
    expected: Any,
) -> None:
    assert _parsed(monkeypatch, argv, env, attr) == expected


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_OFFLINE": "maybe"}, "'maybe' is not a boolean"),
        (["inspect", "x"], {"CUSTOMHOUSE_INSPECT_FMT": "yaml"}, "invalid choice: 'yaml'"),
        (["db", "update"], {"CUSTOMHOUSE_FETCH_RETRIES": "99"}, "99 is not in the range"),
        (["scan", "x"], {"CUSTOMHOUSE_SCAN_FAIL_ON": "severe"}, "invalid choice: 'severe'"),
    ],
)
def test_bad_environment_value_is_a_usage_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    needle: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert f"${next(iter(env))}" in last and needle in last


def test_environment_of_other_commands_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMHOUSE_DB_STATUS_FMT", "yaml")  # invalid, but for another command
    monkeypatch.setenv("CUSTOMHOUSE_SBOM_FMT", "yaml")
    _, args = parse_args(["db", "search", "openssl"])
    assert (args.package, args.fmt) == ("openssl", "table")


def test_option_long_name_is_not_an_environment_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # as with click's auto_envvar_prefix, the name is the option's destination (fmt)
    monkeypatch.setenv("CUSTOMHOUSE_INSPECT_FORMAT", "json")
    _, args = parse_args(["inspect", "x"])
    assert args.fmt == "table"


# --- exit codes of a real process ----------------------------------------------------


def test_closed_stdout_exits_0_without_traceback(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1.0 2.0\n" * 200_000)  # ~400 kB of output, far more than a pipe holds
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOMHOUSE_")}
    with pairs.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-m", "customhouse", "versions", "compare", "dpkg", "--stdin"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env=env,
        )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(2) == b"<\n"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_operational_error_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    out = tmp_path / "missing-dir" / "sbom.json"
    argv = ["sbom", f"dir:{rootfs}", "--no-cache", "--format", "json", "-o", str(out)]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 3
    assert capsys.readouterr().err.startswith(f"customhouse: error: cannot write to {out.parent}")
