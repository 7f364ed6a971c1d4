"""A small POSIX shell reader: enough structure to see which commands a RUN runs.

It splits a script into simple commands (through ``;``, ``&&``, ``||``, ``&``,
pipes, newlines, ``if``/``for``/``while``/``case`` bodies, subshells, braces and
function bodies), keeps quoting out of the word values, and reads the scripts
inside ``$(...)``, backticks, ``<(...)`` and ``sh -c '...'`` as nested commands.
It does not evaluate anything: ``$VAR`` stays as written (``${VAR}`` is
normalized to ``$VAR`` so names compare equal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"})
# commands that run the rest of their arguments as a command
_WRAPPERS = frozenset({"sudo", "env", "nohup", "exec", "time", "nice", "command", "doas", "gosu"})
_SKIP_WORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"})
_CLOSE_WORDS = frozenset({"fi", "done", "esac", "}"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_DEPTH = 6


@dataclass(frozen=True, slots=True)
class Word:
    """A shell word: ``raw`` as written, ``value`` with quotes removed."""

    raw: str
    value: str
    offset: int
    # scripts of the $(...), `...` and <(...) inside the word
    substitutions: tuple[str, ...] = ()
    # a <(...) process substitution
    process: bool = False


@dataclass(frozen=True, slots=True)
class Redirect:
    op: str
    target: Word
    # body of a here-document (``<<EOF``) or here-string (``<<<``)
    body: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """One simple command."""

    argv: tuple[Word, ...]
    assignments: tuple[Word, ...]
    redirects: tuple[Redirect, ...]
    # wrapper commands in front of the real one (sudo, env, ...)
    prefix: tuple[str, ...]
    pipeline: int
    position: int
    pipe_in: bool
    pipe_out: bool
    depth: int
    # inside $(...) / backticks / <(...): its output is captured, not printed
    captured: bool
    offset: int
    # the command's base name ("" for a bare assignment) and argument values
    name: str = ""
    args: tuple[str, ...] = ()

    @classmethod
    def of(cls, argv: tuple[Word, ...], **fields: object) -> Command:
        name = argv[0].value.rsplit("/", 1)[-1] if argv else ""
        return cls(argv=argv, name=name, args=tuple(w.value for w in argv[1:]), **fields)  # type: ignore[arg-type]

    @property
    def text(self) -> str:
        return " ".join(w.raw for w in self.argv)


def _norm(value: str) -> str:
    return _BRACED.sub(r"$\1", value) if "${" in value else value


def normalize(value: str) -> str:
    """``${NAME}`` -> ``$NAME``, so two spellings of one path compare equal."""
    return _BRACED.sub(r"$\1", value)


# --- tokenizer ------------------------------------------------------------------------

_OPERATORS = ("&&", "||", ";;", "|&", ";", "|", "&", "(", ")", "\n")
_PLAIN = re.compile(r"[^ \t\r\n\\'\"$`<>|&;()#]+")
_REDIRS = ("<<<", "<<-", "&>>", ">>", "<<", "<>", ">&", "<&", ">|", "&>", ">", "<")


@dataclass(slots=True)
class _Tok:
    kind: str  # "word", "op", "redir"
    text: str
    word: Word | None = None
    offset: int = 0


def _scan_balanced(s: str, i: int, open_ch: str, close_ch: str) -> int:
    """Index just past the ``close_ch`` matching an ``open_ch`` before ``i``.

    A ``$(`` inside double quotes opens a nested scan; the enclosing scans wait on an
    explicit stack rather than the Python stack, so hostile nesting cannot overflow it.
    An unbalanced string scans to its end (``len(s)``).
    """
    stack: list[tuple[int, str | None, str, str]] = []
    depth = 1
    quote: str | None = None
    n = len(s)
    while i < n:
        ch = s[i]
        if quote == "'":
            if ch == "'":
                quote = None
        elif ch == "\\":
            i += 1
        elif quote == '"':
            if ch == '"':
                quote = None
            elif ch == "$" and s.startswith("$(", i):
                stack.append((depth, quote, open_ch, close_ch))
                depth, quote, open_ch, close_ch = 1, None, "(", ")"
                i += 2
                continue
        elif ch in "'\"":
            quote = ch
        elif ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                if not stack:
                    return i + 1
                depth, quote, open_ch, close_ch = stack.pop()
        i += 1
    return n


def _tokenize(s: str, base: int) -> list[_Tok]:
    toks: list[_Tok] = []
    n = len(s)
    i = 0
    raw: list[str] = []
    val: list[str] = []
    subs: list[str] = []
    process = False
    start = 0

    def flush() -> None:
        nonlocal raw, val, subs, process
        if raw:
            text = "".join(raw)
            toks.append(
                _Tok(
                    "word",
                    text,
                    Word(text, _norm("".join(val)), base + start, tuple(subs), process),
                    base + start,
                )
            )
        raw, val, subs, process = [], [], [], False

    while i < n:
        ch = s[i]
        if not raw:
            start = i
        if ch in " \t\r":
            flush()
            i += 1
            continue
        if ch == "\\":
            if i + 1 < n and s[i + 1] == "\n":
                i += 2
                continue
            raw.append(s[i : i + 2])
            val.append(s[i + 1 : i + 2])
            i += 2
            continue
        if ch == "#" and not raw:
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        if ch == "'":
            j = s.find("'", i + 1)
            j = n if j < 0 else j
            raw.append(s[i : j + 1])
            val.append(s[i + 1 : j])
            i = j + 1
            continue
        if ch == '"':
            j = i + 1
            while j < n and s[j] != '"':
                if s[j] == "\\" and j + 1 < n:
                    if s[j + 1] in '"\\$`':
                        val.append(s[j + 1])
                    elif s[j + 1] != "\n":
                        val.append(s[j : j + 2])
                    j += 2
                    continue
                if s.startswith("$(", j):
                    k = _scan_balanced(s, j + 2, "(", ")")
                    if not s.startswith("$((", j):
                        subs.append(s[j + 2 : k - 1])
                    val.append(s[j:k])
                    j = k
                    continue
                if s[j] == "`":
                    k = s.find("`", j + 1)
                    k = n - 1 if k < 0 else k
                    subs.append(s[j + 1 : k])
                    val.append(s[j : k + 1])
                    j = k + 1
                    continue
                val.append(s[j])
                j += 1
            raw.append(s[i : j + 1])
            i = j + 1
            continue
        m = _PLAIN.match(s, i)
        if m:
            chunk = m.group()
            raw.append(chunk)
            val.append(chunk)
            i = m.end()
            continue
        if s.startswith("$(", i):
            k = _scan_balanced(s, i + 2, "(", ")")
            if not s.startswith("$((", i):
                subs.append(s[i + 2 : k - 1])
            raw.append(s[i:k])
            val.append(s[i:k])
            i = k
            continue
        if s.startswith("${", i):
            k = _scan_balanced(s, i + 2, "{", "}")
            raw.append(s[i:k])
            val.append(s[i:k])
            i = k
            continue
        if ch == "`":
            k = s.find("`", i + 1)
            k = n - 1 if k < 0 else k
            subs.append(s[i + 1 : k])
            raw.append(s[i : k + 1])
            val.append(s[i : k + 1])
            i = k + 1
            continue
        if (ch in "<>") and s.startswith("(", i + 1) and not raw:
            k = _scan_balanced(s, i + 2, "(", ")")
            subs.append(s[i + 2 : k - 1])
            process = True
            raw.append(s[i:k])
            val.append(s[i:k])
            i = k
            continue
        if ch not in "<>&|;()\n":
            raw.append(ch)
            val.append(ch)
            i += 1
            continue
        redir = next((r for r in _REDIRS if s.startswith(r, i)), None)
        if redir is not None:
            fd = "".join(raw) if raw and "".join(raw).isdigit() else ""
            if fd:
                raw, val = [], []
            else:
                flush()
            toks.append(_Tok("redir", fd + redir, offset=base + i))
            i += len(redir)
            continue
        op = next((o for o in _OPERATORS if s.startswith(o, i)), None)
        if op is not None:
            flush()
            toks.append(_Tok("op", op, offset=base + i))
            i += len(op)
            continue
        raw.append(ch)
        val.append(ch)
        i += 1
    flush()
    return _attach_heredocs(toks, s)


def _attach_heredocs(toks: list[_Tok], s: str) -> list[_Tok]:
    """Replace here-document bodies (lines after a ``<<DELIM`` line) by one token."""
    out: list[_Tok] = []
    i = 0
    pending: list[tuple[int, str, bool]] = []  # (index in out of the redir, delimiter, strip)
    while i < len(toks):
        tok = toks[i]
        out.append(tok)
        if (
            tok.kind == "redir"
            and tok.text.lstrip("0123456789") in ("<<", "<<-")
            and i + 1 < len(toks)
            and toks[i + 1].kind == "word"
        ):
            word = toks[i + 1].word
            assert word is not None
            pending.append((len(out) - 1, word.value, tok.text.endswith("-")))
        if tok.kind == "op" and tok.text == "\n" and pending:
            # the body starts after this newline: consume raw text line by line
            pos = tok.offset + 1
            for index, delim, strip in pending:
                body: list[str] = []
                while pos <= len(s):
                    end = s.find("\n", pos)
                    end = len(s) if end < 0 else end
                    line = s[pos:end]
                    pos = end + 1
                    check = line.lstrip("\t") if strip else line
                    if check == delim:
                        break
                    body.append(line)
                out[index] = _Tok("redir", out[index].text, offset=out[index].offset)
                out[index].word = Word(delim, "\n".join(body), out[index].offset)
            pending = []
            # skip tokens inside the consumed body
            while i + 1 < len(toks) and toks[i + 1].offset < pos:
                i += 1
        i += 1
    return out


# --- commands -------------------------------------------------------------------------


def parse_script(script: str, *, base: int = 0, depth: int = 0) -> list[Command]:
    """Every simple command of ``script``, in source order, nested ones included."""
    commands: list[Command] = []
    _parse(script, base, depth, False, commands)
    return commands


def _parse(script: str, base: int, depth: int, captured: bool, out: list[Command]) -> None:
    if depth > _MAX_DEPTH:
        return
    toks = _tokenize(script, base)
    words: list[Word] = []
    redirects: list[Redirect] = []
    pipeline = len(out) and out[-1].pipeline + 1
    position = 0
    state = "cmd"  # "cmd", "case-word", "pattern", "skip"
    i = 0

    def finish(piped: bool) -> None:
        nonlocal words, redirects, position, pipeline
        if words or redirects:
            _emit(words, redirects, pipeline, position, piped, depth, captured, out)
            position += 1
        if not piped:
            pipeline = (out[-1].pipeline + 1) if out else pipeline + 1
            position = 0
        words, redirects = [], []

    while i < len(toks):
        tok = toks[i]
        if state == "pattern":
            if (tok.kind == "op" and tok.text == ")") or (
                tok.kind == "word" and tok.text == "esac"
            ):
                state = "cmd"
            i += 1
            continue
        if state == "skip":  # for NAME in ...; / case WORD in
            if tok.kind == "op" and tok.text in (";", "\n"):
                state = "cmd"
            i += 1
            continue
        if tok.kind == "redir":
            target = toks[i + 1].word if i + 1 < len(toks) and toks[i + 1].kind == "word" else None
            if tok.word is not None:  # here-document with its body
                redirects.append(Redirect(tok.text, tok.word, tok.word.value))
                i += 2 if target is not None else 1
                continue
            if target is not None:
                body = target.value if tok.text.endswith("<<<") else None
                redirects.append(Redirect(tok.text, target, body))
                i += 2
                continue
            i += 1
            continue
        if tok.kind == "op":
            if tok.text in ("|", "|&"):
                finish(True)
            elif tok.text == ";;":
                finish(False)
                state = "pattern"
            elif tok.text == "(" and words and not redirects and len(words) == 1:
                # a function definition: name ( ) { ...; }
                words = []
                if i + 1 < len(toks) and toks[i + 1].text == ")":
                    i += 1
            else:
                finish(False)
            i += 1
            continue
        word = tok.word
        assert word is not None
        if not words:
            if word.raw in _SKIP_WORDS or word.raw in _CLOSE_WORDS:
                i += 1
                continue
            if word.raw == "for" or word.raw == "select":
                state = "skip"
                i += 1
                continue
            if word.raw == "case":
                state = "case"
                i += 1
                continue
        if state == "case":
            if word.raw == "in":
                state = "pattern"
            i += 1
            continue
        words.append(word)
        i += 1
    finish(False)


def _emit(
    words: list[Word],
    redirects: list[Redirect],
    pipeline: int,
    position: int,
    piped_out: bool,
    depth: int,
    captured: bool,
    out: list[Command],
) -> None:
    assignments: list[Word] = []
    argv = list(words)
    while argv and _ASSIGNMENT.match(argv[0].value) and argv[0].raw[0] not in "'\"":
        assignments.append(argv.pop(0))
    prefix: list[str] = []
    while argv:
        head = argv[0].value.rsplit("/", 1)[-1]
        if head not in _WRAPPERS or len(argv) == 1:
            break
        prefix.append(head)
        argv.pop(0)
        # wrapper options (sudo -u user, env -i, nice -n 5) and env assignments
        while argv and (argv[0].value.startswith("-") or _ASSIGNMENT.match(argv[0].value)):
            opt = argv.pop(0).value
            if head in {"sudo", "doas"} and opt in {"-u", "-g", "-h", "-p", "-C", "-U"} and argv:
                argv.pop(0)
            if head == "nice" and opt == "-n" and argv:
                argv.pop(0)
        if head == "gosu" and argv:
            argv.pop(0)  # the user
    command = Command.of(
        tuple(argv),
        assignments=tuple(assignments),
        redirects=tuple(redirects),
        prefix=tuple(prefix),
        pipeline=pipeline,
        position=position,
        pipe_in=position > 0,
        pipe_out=piped_out,
        depth=depth,
        captured=captured,
        offset=words[0].offset if words else (redirects[0].target.offset if redirects else 0),
    )
    out.append(command)
    # nested scripts: substitutions in any word, then sh -c / su -c scripts
    for word in (*assignments, *argv, *(r.target for r in redirects)):
        for sub in word.substitutions:
            _parse(sub, word.offset, depth + 1, True, out)
    script = inline_script(command)
    if script is not None and not (script.substitutions and script.raw.strip('"').startswith("$(")):
        _parse(script.value, script.offset, depth + 1, captured, out)
    for r in redirects:
        if r.body is not None and command.name in _SHELLS and r.op.endswith(("<<", "<<-")):
            _parse(r.body, r.target.offset, depth + 1, captured, out)


def inline_script(command: Command) -> Word | None:
    """The script of ``sh -c SCRIPT`` / ``bash -lc SCRIPT`` / ``su USER -c SCRIPT``."""
    name = command.name
    argv = command.argv
    if name in _SHELLS:
        for i, w in enumerate(argv[1:], start=1):
            v = w.value
            if v.startswith("-") and not v.startswith("--") and "c" in v[1:]:
                return argv[i + 1] if i + 1 < len(argv) else None
            if not v.startswith("-"):
                return None
        return None
    if name in {"su", "runuser"}:
        for i, w in enumerate(argv[1:], start=1):
            if w.value in {"-c", "--command"} and i + 1 < len(argv):
                return argv[i + 1]
    return None


def is_shell(name: str) -> bool:
    return name in _SHELLS
