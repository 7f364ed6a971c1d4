"""Adapter from BuildKit's parser (the ``dockerfile`` package) to our model.

The ``dockerfile`` package wraps BuildKit's own Go parser, so line continuations,
the escape directive, heredocs and JSON/shell forms mean what they mean to
``docker build``. On top of it this module adds what BuildKit checks when it turns
the parse tree into instructions (unknown instructions, a missing FROM, FROM's
argument count), splits the file into stages, scopes ARGs (global ones before
the first FROM, redeclared ones inside a stage) and substitutes them in FROM.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import dockerfile as _bk

from customhouse.dockerfile.errors import DockerfileParseError
from customhouse.dockerfile.model import ArgDecl, Dockerfile, Heredoc, Instruction, Stage

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
# instructions BuildKit refuses without arguments
_NEED_ARGS = frozenset(KNOWN_INSTRUCTIONS - {"CMD", "ENTRYPOINT", "HEALTHCHECK"})
# BuildKit's automatic platform ARGs: declared, but their value depends on the build
PLATFORM_ARGS = frozenset(
    {
        "BUILDPLATFORM",
        "BUILDOS",
        "BUILDARCH",
        "BUILDVARIANT",
        "TARGETPLATFORM",
        "TARGETOS",
        "TARGETARCH",
        "TARGETVARIANT",
        "TARGETSTAGE",
    }
)
# the value is taken greedily and rstripped: a lazy ``(.*?)\s*$`` is quadratic in a
# long run of inner whitespace
_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*)$")
_IGNORE_TAG = "customhouse:ignore="
_IGNORE_IDS = re.compile(r"[A-Za-z0-9_, ]+")
# Real Dockerfiles are well under 100 KB (the largest official one here: 11.6 KB). The
# BuildKit parser is quadratic in one instruction's continued lines: a 256 KiB RUN of
# 50,000 commands takes ~11 s to lint, 1 MiB over a minute.
_MAX_BYTES = 256 * 1024


def parse_path(path: str | Path) -> Dockerfile:
    """Read and parse a Dockerfile; a missing or unreadable file is a parse error."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DockerfileParseError("no such file", path=name) from None
    except IsADirectoryError:
        raise DockerfileParseError("is a directory, not a Dockerfile", path=name) from None
    except OSError as e:
        raise DockerfileParseError(f"cannot read: {e.strerror}", path=name) from e
    if len(data) > _MAX_BYTES:
        raise DockerfileParseError(
            f"file is {len(data)} bytes, more than the {_MAX_BYTES} allowed", path=name
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DockerfileParseError(f"not UTF-8 text (byte {e.start})", path=name) from e
    return parse_text(text, path=name)


def parse_text(text: str, *, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile ``text``; raise :class:`DockerfileParseError` naming ``path``."""
    text = text.removeprefix("\ufeff")
    _check_size(text, path)
    commands = _run_buildkit(text, path)
    lines = text.splitlines()
    directives = _directives(lines)
    escape = dict(directives).get("escape", "\\") or "\\"
    instructions = [_instruction(c, lines, escape) for c in commands]
    if not instructions:
        raise DockerfileParseError("file with no instructions", path=path, line=1)
    for ins in instructions:
        _check(ins, path)
    stages, global_args, prelude = _stages(instructions, path)
    ignores, comments = _comments(lines)
    return Dockerfile(
        path=path,
        directives=directives,
        escape=escape,
        global_args=tuple(global_args),
        prelude=tuple(prelude),
        stages=tuple(stages),
        ignores=ignores,
        comment_lines=comments,
    )


def _check_size(text: str, path: str) -> None:
    size = len(text) if len(text) > _MAX_BYTES else len(text.encode("utf-8", "surrogatepass"))
    if size > _MAX_BYTES:
        raise DockerfileParseError(
            f"Dockerfile is larger than the {_MAX_BYTES} bytes allowed", path=path
        )


# --- BuildKit --------------------------------------------------------------------


def _run_buildkit(text: str, path: str) -> Sequence[_bk.Command]:
    try:
        return _bk.parse_string(text)  # type: ignore[no-any-return]
    except _bk.GoParseError as e:
        reason = str(e.args[0]) if e.args else str(e)
        raise DockerfileParseError(reason, path=path, line=_failing_line(text)) from e


def _failing_line(text: str) -> int | None:
    """The first line whose prefix no longer parses: where the bad instruction starts."""
    lines = text.splitlines(keepends=True)

    def fails(n: int) -> bool:
        try:
            _bk.parse_string("".join(lines[:n]))
        except _bk.GoParseError:
            return True
        return False

    if not lines or not fails(len(lines)):
        return None
    lo, hi = 1, len(lines)
    while lo < hi:  # smallest n with fails(n)
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid + 1
    # the instruction that breaks starts at or before line lo; walk back over its
    # continuation to its first line when that prefix already fails too
    return lo


def _directives(lines: list[str]) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for line in lines:
        m = _DIRECTIVE.match(line.strip())
        if not m or not line.lstrip().startswith("#"):
            break
        key = m.group(1).lower()
        if key in dict(found):
            break
        found.append((key, m.group(2).rstrip()))
    return tuple(found)


def _comments(lines: list[str]) -> tuple[tuple[tuple[int, frozenset[str]], ...], frozenset[int]]:
    ignores: list[tuple[int, frozenset[str]]] = []
    comments: set[int] = set()
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            comments.add(number)
        if "customhouse:ignore" not in line:
            continue
        listed = _ignore_list(line)
        if listed is not None:
            ids = frozenset(p.strip().upper() for p in listed.split(",") if p.strip())
            ignores.append((number, ids))
    return tuple(ignores), frozenset(comments)


def _ignore_list(line: str) -> str | None:
    """The ids after the first ``customhouse:ignore=`` that follows a ``#`` and has any.

    Same result as searching ``#.*?customhouse:ignore=([A-Za-z0-9_, ]+)``, without
    that pattern's quadratic retries from every ``#`` of a long line.
    """
    hash_at = line.find("#")
    if hash_at < 0:
        return None
    at = line.find(_IGNORE_TAG, hash_at + 1)
    while at >= 0:
        m = _IGNORE_IDS.match(line, at + len(_IGNORE_TAG))
        if m:
            return m.group()
        at = line.find(_IGNORE_TAG, at + 1)
    return None


def _instruction(c: _bk.Command, lines: list[str], escape: str) -> Instruction:
    keyword = str(c.cmd).upper()
    heredocs = tuple(Heredoc(h.name, h.content) for h in c.heredocs)
    original = str(c.original)
    return Instruction(
        keyword=keyword,
        args=tuple(str(v) for v in c.value),
        flags=tuple(str(f) for f in c.flags),
        json=bool(c.json),
        original=original,
        start_line=int(c.start_line),
        end_line=int(c.end_line),
        heredocs=heredocs,
        sub_keyword=str(c.sub_cmd).upper() if c.sub_cmd else None,
        line_starts=_line_starts(original, lines, int(c.start_line), int(c.end_line), escape)
        if not heredocs
        else _heredoc_line_starts(original, int(c.start_line)),
    )


def _line_starts(
    original: str, lines: list[str], start: int, end: int, escape: str
) -> tuple[tuple[int, int], ...]:
    """Map offsets of the joined ``original`` back to source lines.

    BuildKit drops comment and blank lines inside a continuation and removes the
    escape character at a line's end; replay that, and give up (one entry for the
    first line) if the replay does not reproduce ``original``.
    """
    if start == end or end > len(lines):
        return ((0, start),)
    cont = re.compile(re.escape(escape) + r"[ \t]*$")
    starts: list[tuple[int, int]] = []
    joined: list[str] = []
    offset = 0
    for number in range(start, end + 1):
        line = lines[number - 1]
        if number > start and (not line.strip() or line.lstrip().startswith("#")):
            continue
        segment = cont.sub("", line) if number < end else line
        if number == start:
            segment = segment.lstrip()
        starts.append((offset, number))
        joined.append(segment)
        offset += len(segment)
    if "".join(joined).rstrip() != original.rstrip():
        return ((0, start),)
    return tuple(starts)


def _heredoc_line_starts(original: str, start: int) -> tuple[tuple[int, int], ...]:
    starts = [(0, start)]
    for i, ch in enumerate(original):
        if ch == "\n":
            starts.append((i + 1, start + len(starts)))
    return tuple(starts)


def _check(ins: Instruction, path: str) -> None:
    kw = ins.keyword
    if kw not in KNOWN_INSTRUCTIONS:
        raise DockerfileParseError(
            f"unknown instruction: {ins.original.split()[0]}", path=path, line=ins.start_line
        )
    if kw in _NEED_ARGS and not any(a.strip() for a in ins.args):
        raise DockerfileParseError(
            f"{kw} requires at least one argument", path=path, line=ins.start_line
        )
    if kw == "ONBUILD" and ins.sub_keyword in {"ONBUILD", "FROM", "MAINTAINER"}:
        raise DockerfileParseError(
            f"{ins.sub_keyword} isn't allowed as an ONBUILD trigger", path=path, line=ins.start_line
        )
    if kw == "FROM" and (
        len(ins.args) not in (1, 3) or (len(ins.args) == 3 and ins.args[1].lower() != "as")
    ):
        raise DockerfileParseError(
            "FROM requires either one or three arguments (FROM image [AS name])",
            path=path,
            line=ins.start_line,
        )
    if kw in {"COPY", "ADD"} and len(ins.args) < 2:
        raise DockerfileParseError(
            f"{kw} requires at least two arguments", path=path, line=ins.start_line
        )


# --- stages and ARG scoping ----------------------------------------------------------


def _stages(
    instructions: list[Instruction], path: str
) -> tuple[list[Stage], list[ArgDecl], list[Instruction]]:
    global_args: list[ArgDecl] = []
    prelude: list[Instruction] = []
    stages: list[Stage] = []
    current: dict[str, object] | None = None
    body: list[Instruction] = []

    def close() -> None:
        if current is not None:
            stages.append(Stage(instructions=tuple(body), **current))  # type: ignore[arg-type]

    scope: dict[str, str | None] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            close()
            body = []
            current = _from(ins, len(stages), stages, scope)
            continue
        if current is None:
            if ins.keyword != "ARG":
                raise DockerfileParseError(
                    f"{ins.keyword} before the first FROM (no build stage in current context)",
                    path=path,
                    line=ins.start_line,
                )
            prelude.append(ins)
            for decl in arg_decls(ins):
                global_args.append(decl)
                scope[decl.name] = decl.default
            continue
        body.append(ins)
    close()
    return stages, global_args, prelude


def arg_decls(ins: Instruction) -> list[ArgDecl]:
    """The declarations of one ARG instruction (``ARG a=1 b``)."""
    decls = []
    for raw in ins.args:
        name, eq, default = raw.partition("=")
        decls.append(ArgDecl(name.strip(), word_value(default) if eq else None, ins.start_line))
    return decls


def _from(
    ins: Instruction, index: int, earlier: list[Stage], scope: Mapping[str, str | None]
) -> dict[str, object]:
    base_text = ins.args[0]
    name = ins.args[2].lower() if len(ins.args) == 3 else None
    base, resolved = expand(base_text, scope)
    parent = None
    for stage in earlier:
        if resolved and stage.name is not None and stage.name == base.lower():
            parent = stage.index
    platform = ins.flag("platform")
    return {
        "index": index,
        "name": name,
        "base_text": base_text,
        "base": base if resolved else None,
        "platform": platform,
        "from_instruction": ins,
        "parent": parent,
    }


# --- words -------------------------------------------------------------------------


def word_value(text: str) -> str:
    """A word with its quotes removed the way the Dockerfile shell lexer does."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote == "'":
            if ch == "'":
                quote = None
            else:
                out.append(ch)
        elif ch == "\\" and i + 1 < len(text) and (quote is None or text[i + 1] in '"\\$`'):
            out.append(text[i + 1])
            i += 1
        elif quote == '"':
            if ch == '"':
                quote = None
            else:
                out.append(ch)
        elif ch in "'\"":
            quote = ch
        else:
            out.append(ch)
        i += 1
    return "".join(out)


_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def expand(text: str, values: Mapping[str, str | None]) -> tuple[str, bool]:
    """Substitute ``$VAR``/``${VAR}``/``${VAR:-word}``/``${VAR:+word}`` from ``values``.

    Returns the result and whether every variable had a value (BuildKit expands an
    unset variable to the empty string; we report that as unresolved).
    """
    resolved = True

    def sub(m: re.Match[str]) -> str:
        nonlocal resolved
        name = m.group("braced") or m.group("plain")
        value = values.get(name)
        op = m.group("op")
        if op is None:
            if value is None:
                resolved = False
                return ""
            return value
        word = m.group("word") or ""
        if op == ":-":
            return value if value else word
        if op == "-":
            return value if value is not None else word
        if op == ":+":
            return word if value else ""
        return word if value is not None else ""  # "+"

    return _VAR.sub(sub, word_value(text)), resolved
