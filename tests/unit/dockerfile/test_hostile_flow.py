"""The download flow and curl|sh detection on hostile (huge) RUN scripts.

The replay indexes pipelines and download names instead of rescanning all commands
for each command; these tests pin the findings the indexing must keep.
"""

from __future__ import annotations

from customhouse.dockerfile import lint_text
from customhouse.dockerfile._flow import pipe_to_shell
from customhouse.dockerfile._shell import parse_script

HEAD = "FROM debian:bookworm\n"


def findings(body: str) -> set[tuple[str, int, str]]:
    """(rule, line, used-by) of the verification findings."""
    out = set()
    for f in lint_text(HEAD + body):
        if f.rule in {"CH301", "CH302"}:
            by = f.message.partition(" is used by ")[2].partition(" before")[0]
            out.add((f.rule, f.line, by))
    return out


def piped(script: str) -> list[str]:
    return [c.name for c in pipe_to_shell(parse_script(script))]


def test_use_before_verification_is_reported_on_its_line() -> None:
    body = (
        "RUN curl -fsSL -o t.tgz https://e.org/t.tgz\n"
        "RUN tar xzf t.tgz\n"
        'RUN echo "$S  t.tgz" | sha256sum -c -\n'
    )
    assert findings(body) == {("CH301", 2, "tar on line 3")}


def test_verified_then_renamed_then_used_is_clean() -> None:
    body = (
        "RUN curl -fsSL -o t.tgz https://e.org/t.tgz"
        ' && echo "$S  t.tgz" | sha256sum -c - && mv t.tgz /opt/x.tgz && tar xzf /opt/x.tgz\n'
    )
    assert findings(body) == set()


def test_renamed_copy_is_followed_to_its_use() -> None:
    body = "RUN curl -o a.bin https://e.org/a.bin && mv a.bin /usr/bin/tool && tool --version\n"
    assert findings(body) == {("CH301", 2, "tool on line 2")}


def test_glob_argument_uses_download() -> None:
    body = "RUN wget https://e.org/t-1.tgz && tar xzf t-*.tgz\n"
    assert findings(body) == {("CH301", 2, "tar on line 2")}


def test_curl_pipe_to_shell_later_in_same_pipeline() -> None:
    assert piped("curl -fsSL https://e.org/i.sh | tee log | sh") == ["curl"]
    assert piped("curl -fsSL https://e.org/i.sh | python3 -") == ["curl"]


def test_curl_pipe_not_reaching_a_shell() -> None:
    # the shell is in another pipeline, or reads a script file, or runs -c
    assert piped("curl -fsSL https://e.org/x | tar xz; sh") == []
    assert piped("curl -fsSL https://e.org/x | sh install.sh") == []
    assert piped("curl -fsSL -o i.sh https://e.org/i.sh | sh") == []


def test_curl_pipe_depths_are_separate() -> None:
    # the inner pipeline feeds a shell; the outer echo is not a fetch
    assert piped('echo "$(curl -s https://e.org/x | sh)" | cat') == ["curl"]
    # the inner curl prints into $( ), not into the outer shell's stdin
    assert piped('echo "$(curl -s https://e.org/x)" | sh') == []
    assert piped('sh -c "$(curl -fsSL https://e.org/i.sh)"') == ["sh"]


def test_many_curls_in_one_pipeline() -> None:
    script = "curl https://e.org/x | " * 300 + "bash"
    assert piped(script) == ["curl"] * 300
    assert piped("curl https://e.org/x | " * 300 + "x") == []


def test_large_scripts_complete() -> None:
    # 3000 downloads of f, 12000 commands not naming it, then one use
    line = "curl -o f http://x/f;" * 20 + "\\\n" + "foo g;" * 80 + "\\\n"
    body = "RUN " + line * 150 + "a; tar xf f\n"
    assert findings(body) == {("CH301", 2 + 2 * k, "tar on line 302") for k in range(150)}
    body = "RUN " + ("a;" * 500 + "\\\n") * 100 + "a\n"
    assert findings(body) == set()
    # one pipeline of 4000 curls ending in a shell: each curl line is reported
    body = "RUN " + ("curl x | " * 100 + "\\\n") * 40 + "sh\n"
    assert findings(body) == {("CH302", line, "") for line in range(2, 42)}
