"""The shell reader splits RUN scripts into the commands a shell would run."""

from __future__ import annotations

import pytest

from customhouse.dockerfile._shell import parse_script


def names(script: str) -> list[str]:
    return [c.name for c in parse_script(script) if c.name]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            "set -eux; apt-get update && apt-get install -y curl || true",
            ["set", "apt-get", "apt-get", "true"],
        ),
        ("a | b |& c & d", ["a", "b", "c", "d"]),
        ('if [ -n "$x" ]; then curl -O u; else wget u; fi', ["[", "curl", "wget"]),
        ("for k in a b; do gpg --recv $k; done", ["gpg"]),
        ("while read l; do echo $l; done < f", ["read", "echo"]),
        ('case "$a" in x86_64) A=x ;; arm*) tar x ;; *) ;; esac', ["tar"]),
        ('f() { local v="$1"; curl -o "$v" u; }; f a', ["local", "curl", "f"]),
        ("( cd /x && make ) && { echo a; }", ["cd", "make", "echo"]),
        ('X=1 Y="a b" env Z=2 sudo -u nobody make install', ["make"]),
        ('v="$(apk --print-arch)"; echo `uname -m`', ["apk", "echo", "uname"]),
        ("sh -c 'curl u | tar x'", ["sh", "curl", "tar"]),
        ('su nobody -s /bin/sh -c "cd /x && wget u"', ["su", "cd", "wget"]),
        ("echo a # comment; curl", ["echo"]),
        ("cat <<EOF > /etc/x\ncurl not a command\nEOF\necho done", ["cat", "echo"]),
    ],
)
def test_commands_are_split_like_a_shell(script: str, expected: list[str]) -> None:
    assert names(script) == expected


def test_pipelines_positions_and_redirects() -> None:
    cmds = parse_script("curl -fsSL u | gpg --dearmor > /k.gpg; echo ok")
    curl, gpg, echo = cmds
    assert curl.pipe_out and not curl.pipe_in and gpg.pipe_in
    assert curl.pipeline == gpg.pipeline != echo.pipeline
    assert [(r.op, r.target.value) for r in gpg.redirects] == [(">", "/k.gpg")]


def test_quotes_are_removed_and_braced_variables_normalized() -> None:
    (cmd,) = parse_script("tar -xf \"node-v${V}.tar.xz\" 'a b'")
    assert cmd.args == ("-xf", "node-v$V.tar.xz", "a b")


def test_wrappers_are_recorded_as_prefix() -> None:
    (cmd,) = parse_script("sudo -E apt-get upgrade -y")
    assert cmd.prefix == ("sudo",) and cmd.name == "apt-get"


def test_substitutions_are_captured_commands() -> None:
    cmds = parse_script('[ "$(sha256sum f | cut -d" " -f1)" = "$S" ]')
    inner = [c for c in cmds if c.name == "sha256sum"]
    assert inner and inner[0].captured and inner[0].depth == 1
