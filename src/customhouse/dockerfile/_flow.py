"""Downloads and what happens to them: the facts behind the transport and
verification rules.

For each stage, the RUN commands (and ADD of URLs) are replayed in order as
events: a download names a file; a checksum check (``sha256sum -c``,
``echo "<sum>  f" | sha256sum -c -``, a hash compared in ``$(...)``), a signature
check (``gpg --verify``, ``gpg --decrypt``, ``gpgv``, ``cosign verify-blob``) or
``ADD --checksum`` verifies it; any other command naming it uses it. A download
used before it is verified, or never verified, is unverified. Signing keys,
signatures and checksum lists are trust material, not payloads.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from customhouse.dockerfile._script import Script
from customhouse.dockerfile._shell import Command, is_shell, normalize, parse_script
from customhouse.dockerfile.model import Instruction

# curl's short options that take a value (curl --help all)
_CURL_SHORT_ARG = set("oDdeEHuUxXAbcCKmrtTwyYzFQP")
_CURL_LONG_ARG = frozenset(
    [
        "output",
        "header",
        "data",
        "data-raw",
        "data-binary",
        "data-urlencode",
        "data-ascii",
        "user",
        "user-agent",
        "referer",
        "proxy",
        "request",
        "retry",
        "retry-delay",
        "retry-max-time",
        "connect-timeout",
        "max-time",
        "cacert",
        "capath",
        "cert",
        "key",
        "write-out",
        "limit-rate",
        "output-dir",
        "config",
        "cookie",
        "cookie-jar",
        "dump-header",
        "form",
        "form-string",
        "range",
        "resolve",
        "ciphers",
        "interface",
        "max-filesize",
        "proto",
        "proto-redir",
        "proto-default",
        "tls-max",
        "speed-limit",
        "speed-time",
        "continue-at",
        "upload-file",
        "url",
        "netrc-file",
        "oauth2-bearer",
        "pinnedpubkey",
        "dns-servers",
        "local-port",
        "max-redirs",
        "proxy-user",
        "noproxy",
        "socks5",
        "socks5-hostname",
        "preproxy",
        "variable",
        "json",
        "time-cond",
        "trace",
        "trace-ascii",
        "stderr",
        "etag-save",
        "etag-compare",
        "connect-to",
        "cert-type",
        "key-type",
        "pass",
        "hostpubsha256",
        "hostpubmd5",
        "expect100-timeout",
        "create-file-mode",
        "keepalive-time",
        "retry-all-errors-x",
        "unix-socket",
        "doh-url",
    ]
)
_WGET_SHORT_ARG = set("oOaPtTwQeUiBDARlIX")
_WGET_LONG_ARG = frozenset(
    [
        "output-document",
        "output-file",
        "append-output",
        "directory-prefix",
        "tries",
        "timeout",
        "wait",
        "header",
        "user-agent",
        "user",
        "password",
        "input-file",
        "base",
        "domains",
        "accept",
        "reject",
        "level",
        "progress",
        "post-data",
        "post-file",
        "method",
        "body-data",
        "body-file",
        "ca-certificate",
        "ca-directory",
        "certificate",
        "private-key",
        "load-cookies",
        "save-cookies",
        "referer",
        "limit-rate",
        "quota",
        "execute",
        "dns-timeout",
        "connect-timeout",
        "read-timeout",
        "waitretry",
        "bind-address",
        "http-user",
        "http-password",
        "proxy-user",
        "proxy-password",
        "restrict-file-names",
        "default-page",
        "backups",
        "config",
    ]
)
_INTERPRETERS = frozenset(
    {"python", "python2", "python3", "perl", "ruby", "node", "php", "pwsh", "powershell"}
)
_EXTRACTORS = frozenset(
    {
        "tar", "bsdtar", "gunzip", "gzip", "xz", "unxz", "bunzip2", "bzip2", "zcat", "xzcat",
        "bzcat", "zstd", "unzstd", "cpio", "unzip", "7z", "dpkg", "rpm", "install",
    }
)  # fmt: skip
_HASHERS = frozenset(
    {"sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "md5sum", "b2sum", "shasum"}
)
_NOT_USE = frozenset(
    {
        "rm", "test", "[", "[[", "echo", "printf", "ls", "stat", "du", "wc", "file", "touch",
        "mkdir", "chmod", "chown", "true", "false", "export", "local", "cd", "set", "unset",
        "gpg", "gpg2", "gpgv", "gpgv2", "gpgconf", "grep", "egrep", "awk", "cut", "sort",
        "basename", "dirname", "readlink", "realpath", "openssl", "cosign", "minisign",
        "signify", "sleep", "curl", "wget", *_HASHERS,
    }
)  # fmt: skip
_TRUST_NAME = re.compile(
    r"(?i)(\.(asc|sig|sign|gpg|pgp|pub|key|pem|crt|sha1|sha256|sha512|md5|sha256sum|sha512sum)$"
    r"|^(keys|[a-z0-9_-]*-keys|sha\d*sums?(\.txt)?(\.asc)?|shasums\d*\.txt(\.asc)?|checksums?(\.txt)?)$)"
)
_LOOPBACK = re.compile(r"^[a-z][a-z0-9+.-]*://(localhost|127\.\d+\.\d+\.\d+|\[::1\])([:/]|$)", re.I)


@dataclass(frozen=True, slots=True)
class Fetch:
    """One URL fetched by curl/wget/ADD, and where its content goes."""

    tool: str
    url: str
    # "file" (saved as ``target``), "stdout" (printed, piped or captured)
    sink: str
    target: str | None
    insecure: bool
    line: int


def _short_cluster(word: str, takes_arg: set[str]) -> tuple[list[str], str | None, bool]:
    """Split ``-fsSLo`` into flags; return (flags, value-or-None, needs-next-word)."""
    flags: list[str] = []
    body = word[1:]
    for i, ch in enumerate(body):
        flags.append(ch)
        if ch in takes_arg:
            rest = body[i + 1 :]
            return flags, rest if rest else None, not rest
    return flags, None, False


def parse_fetch(cmd: Command, line: int) -> list[Fetch]:
    """URLs a curl or wget command fetches (empty for any other command)."""
    name = cmd.name
    if name not in {"curl", "wget"}:
        return []
    short_arg, long_arg = (
        (_CURL_SHORT_ARG, _CURL_LONG_ARG) if name == "curl" else (_WGET_SHORT_ARG, _WGET_LONG_ARG)
    )
    outputs: list[str] = []
    remote_name = False
    insecure = False
    prefix: str | None = None
    urls: list[str] = []
    words = [w.value for w in cmd.argv[1:]]
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w == "--":
            urls.extend(words[i:])
            break
        if w.startswith("--"):
            key, eq, value = w[2:].partition("=")
            if key in long_arg and not eq:
                value = words[i] if i < len(words) else ""
                i += 1
            if key in {"output", "output-document"}:
                outputs.append(value)
            elif key in {"remote-name", "remote-name-all"}:
                remote_name = True
            elif key in {"insecure", "no-check-certificate"}:
                insecure = True
            elif key in {"output-dir", "directory-prefix"}:
                prefix = value
            elif key == "url":
                urls.append(value)
            continue
        if w.startswith("-") and len(w) > 1:
            if name == "wget" and len(w) == 3 and w[1] == "n":
                continue  # -nv, -nc, -nd ...
            flags, short_value, needs = _short_cluster(w, short_arg)
            value = short_value or ""
            if needs:
                value = words[i] if i < len(words) else ""
                i += 1
            if "k" in flags and name == "curl":
                insecure = True
            last = flags[-1]
            if name == "curl" and "O" in flags:
                remote_name = True
            if (last == "o" and name == "curl") or (last == "O" and name == "wget"):
                outputs.append(value or "")
            if last == "P" and name == "wget":
                prefix = value
            continue
        urls.append(w)
    fetches = []
    redirect = next((r.target.value for r in cmd.redirects if r.op in (">", ">>", ">|")), None)
    for index, url in enumerate(urls):
        target: str | None = outputs[index] if index < len(outputs) else None
        if (target is None and name == "wget") or (target is None and remote_name):
            target = _url_basename(url)
            if prefix:
                target = f"{prefix.rstrip('/')}/{target}"
        if target is None and redirect is not None:
            target = redirect
        if target == "-":
            target = redirect
        sink = "file" if target is not None else "stdout"
        fetches.append(Fetch(name, url, sink, target, insecure, line))
    return fetches


def _url_basename(url: str) -> str:
    path = re.split(r"[?#]", url, maxsplit=1)[0].rstrip("/")
    if "://" in path and path.count("/") < 3:
        return "index.html"
    return path.rsplit("/", 1)[-1] or "index.html"


def is_plain_http(url: str) -> bool:
    lowered = url.lower()
    return lowered.startswith(("http://", "ftp://", "git://")) and not _LOOPBACK.match(url)


def is_remote(url: str) -> bool:
    return bool(re.match(r"^(https?|ftp)://", url, re.I))


# --- pipe to shell -------------------------------------------------------------------


def _fetches_stdout(cmd: Command) -> bool:
    return any(f.sink == "stdout" for f in parse_fetch(cmd, 0))


def _runs_stdin(cmd: Command) -> bool:
    """An interpreter reading its program from standard input."""
    name = cmd.name
    if not (is_shell(name) or name in _INTERPRETERS or re.fullmatch(r"python[0-9.]*", name)):
        return False
    for value in cmd.args:
        if value in {"-", "-s"}:
            return True
        if value.startswith("-"):
            if not value.startswith("--") and "c" in value[1:] and is_shell(name):
                return False
            if value in {"-c", "-e", "-E", "-r"}:
                return False
            continue
        return False  # a script file
    return True


def _has_fetch(script: str) -> bool:
    return any(parse_fetch(c, 0) for c in parse_script(script))


def _pipelines(cmds: Sequence[Command]) -> dict[tuple[int, int], list[int]]:
    """The indices of the commands of each (pipeline, depth), in order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, cmd in enumerate(cmds):
        groups.setdefault((cmd.pipeline, cmd.depth), []).append(i)
    return groups


def _piped_to_stdin(cmds: Sequence[Command]) -> set[int]:
    """Indices of fetches printing to a pipe that a later stdin interpreter reads.

    One backward pass per pipeline: a command qualifies when a later member of its
    pipeline (same depth) at a later position runs its standard input.
    """
    out: set[int] = set()
    for members in _pipelines(cmds).values():
        if not any(cmds[j].pipe_out for j in members):
            continue
        latest: int | None = None  # the highest position of a later stdin interpreter
        for j in reversed(members):
            cmd = cmds[j]
            if (
                cmd.pipe_out
                and latest is not None
                and latest > cmd.position
                and _fetches_stdout(cmd)
            ):
                out.add(j)
            if _runs_stdin(cmd) and (latest is None or cmd.position > latest):
                latest = cmd.position
    return out


def pipe_to_shell(commands: Iterable[Command]) -> Iterator[Command]:
    """Commands that run code fetched from the network without saving it first."""
    cmds = list(commands)
    piped = _piped_to_stdin(cmds)
    for i, cmd in enumerate(cmds):
        if i in piped:
            yield cmd
        name = cmd.name
        runner = is_shell(name) or name in {"eval", "source", "."} or name in _INTERPRETERS
        if not runner:
            continue
        for word in cmd.argv[1:]:
            runs_it = word.process or name in {"eval", "source", "."} or _has_c(cmd)
            if runs_it and any(_has_fetch(s) for s in word.substitutions):
                yield cmd
                break


def _has_c(cmd: Command) -> bool:
    return any(v.startswith("-") and not v.startswith("--") and "c" in v for v in cmd.args)


# --- download / verification flow ------------------------------------------------------


@dataclass(slots=True)
class Download:
    fetch: Fetch
    names: set[str]
    verified: bool = False
    trust: bool = False
    used_at: int | None = None
    used_by: str | None = None
    stream_consumer: str | None = None


@dataclass(frozen=True, slots=True)
class _Upstream:
    """The commands before ``cmds[index]`` in its pipeline (same depth), read lazily."""

    cmds: Sequence[Command]
    members: list[int]  # indices of the pipeline's commands, ascending
    index: int

    def __iter__(self) -> Iterator[Command]:
        for j in self.members:
            if j >= self.index:
                break
            yield self.cmds[j]


@dataclass(slots=True)
class StageFlow:
    """Replays one stage's downloads, checks and uses in order."""

    downloads: list[Download] = field(default_factory=list)
    # every name of every download -> the downloads with that name (see _sync)
    _by_name: dict[str, list[Download]] = field(default_factory=dict, repr=False)
    _indexed: int = field(default=0, repr=False)

    def _sync(self) -> None:
        """Index the downloads appended since the last call."""
        for d in self.downloads[self._indexed :]:
            for name in d.names:
                self._by_name.setdefault(name, []).append(d)
        self._indexed = len(self.downloads)

    def _rename(self, d: Download, names: set[str]) -> None:
        self._sync()
        for name in names - d.names:
            self._by_name.setdefault(name, []).append(d)
        d.names |= names

    def _same_files(self, args: Iterable[str]) -> list[Download]:
        """The downloads one of ``args`` names (each once): by base name, a part of
        ``a=b`` included, or as a glob of base names."""
        self._sync()
        if not self._by_name:
            return []
        bases: set[str] = set()
        for arg in args:
            if arg:
                bases.update(_base(part) for part in arg.split("="))
        hits: dict[int, Download] = {}
        for base in bases:
            for d in self._by_name.get(base, ()):
                hits[id(d)] = d
            if any(c in base for c in "*?["):
                for name, ds in self._by_name.items():
                    if fnmatch.fnmatchcase(name, base):
                        for d in ds:
                            hits[id(d)] = d
        return list(hits.values())

    def unverified(self) -> list[Download]:
        return [
            d
            for d in self.downloads
            if not d.trust
            and (d.stream_consumer is not None or d.used_at is not None or not d.verified)
        ]

    # -- events --

    def add(self, ins: Instruction) -> None:
        if ins.keyword != "ADD" or ins.heredocs:
            return
        for src in ins.args[:-1]:
            if not is_remote(src):
                continue
            dest = ins.args[-1]
            target = dest + _url_basename(src) if dest.endswith("/") else dest
            fetch = Fetch("ADD", src, "file", target, False, ins.start_line)
            d = Download(fetch, _names(target))
            d.verified = ins.flag("checksum") is not None
            d.trust = bool(_TRUST_NAME.search(_base(target)))
            self.downloads.append(d)

    def run(self, script: Script) -> None:
        if script.kind == "powershell":
            self._powershell(script)
            return
        if script.kind != "posix":
            return
        cmds = script.commands
        groups = _pipelines(cmds)
        # the next command of each command's pipeline (same depth), if any
        following: list[Command | None] = [None] * len(cmds)
        for members in groups.values():
            for j, k in pairwise(members):
                following[j] = cmds[k]
        for i, cmd in enumerate(cmds):
            line = script.line_of(cmd.offset)
            fetches = parse_fetch(cmd, line)
            if fetches:
                self._fetched(cmd, fetches, following[i])
                continue
            if cmd.pipe_out and _feeds_hasher(following[i]):
                continue  # cat f | sha256sum: the hasher's own event covers it
            self._command(cmd, _Upstream(cmds, groups[(cmd.pipeline, cmd.depth)], i), line)

    def _fetched(self, cmd: Command, fetches: list[Fetch], consumer: Command | None) -> None:
        for fetch in fetches:
            if not is_remote(fetch.url) and "$" not in fetch.url:
                continue
            if fetch.sink == "file" and fetch.target is not None:
                d = Download(fetch, _names(fetch.target))
                d.trust = bool(_TRUST_NAME.search(_base(fetch.target)))
                if _opaque(fetch.target):
                    continue  # a name we cannot follow ("$f"): no claim either way
                self.downloads.append(d)
                continue
            if not cmd.pipe_out:
                continue  # printed or captured: data, not a payload
            if consumer is None or _runs_stdin(consumer):
                continue  # pipe to a shell: its own rule
            if _is_key_use(consumer):
                continue
            if consumer.name == "tee" and consumer.args:
                target = next((a for a in consumer.args if not a.startswith("-")), None)
                if target and not _opaque(target):
                    d = Download(fetch, _names(target))
                    d.trust = bool(_TRUST_NAME.search(_base(target)))
                    self.downloads.append(d)
                continue
            if consumer.name in _EXTRACTORS:
                d = Download(fetch, set(), stream_consumer=consumer.name)
                self.downloads.append(d)

    def _pending(self) -> list[Download]:
        return [d for d in self.downloads if not d.verified and d.names]

    def _command(self, cmd: Command, before: Iterable[Command], line: int) -> None:
        """``before``: the earlier commands of ``cmd``'s pipeline (same depth)."""
        name = cmd.name
        if not name and not cmd.redirects:
            return
        if _is_key_use(cmd):
            for d in self._pending():
                if _mentions_any(d, cmd.args) or _mentions_any(d, _redirect_sources(cmd)):
                    d.trust = True
            return
        verified = self._verification(cmd, before)
        if verified is not None:
            matched = [d for d in self._pending() if _matches_text(d, verified)]
            if not matched and not _specific(cmd):
                matched = self._pending()
            for d in matched:
                d.verified = True  # a use before this stays recorded in used_at
            return
        if name in {"mv", "cp", "install", "ln"}:
            paths = [a for a in cmd.args if not a.startswith("-")]
            if len(paths) >= 2 and not paths[-1].endswith("/"):
                for d in self._same_files(paths[:-1]):
                    self._rename(d, _names(paths[-1]))
            if name != "install":
                return
        if name in _NOT_USE:
            return
        args = [*cmd.args, *_redirect_sources(cmd)]
        if cmd.argv:
            args.append(cmd.argv[0].value)
        for d in self._same_files(args):
            if d.verified or d.used_at is not None or d.trust or not d.names:
                continue
            d.used_at = line
            d.used_by = name or "<"

    def _verification(self, cmd: Command, before: Iterable[Command]) -> list[str] | None:
        """Texts naming what ``cmd`` verifies, or None if it verifies nothing."""
        name = cmd.name
        args = list(cmd.args)
        if name in _HASHERS or name == "cksum":
            check = any(
                a in {"-c", "--check"}
                or (a.startswith("-") and not a.startswith("--") and "c" in a)
                for a in args
            )
            if not check:
                # a hash computed for comparison: $(sha256sum f) or sha256sum f | grep
                if not (cmd.captured or cmd.pipe_out):
                    return None
                return args + _upstream_text(cmd, before)
            files = [a for a in args if not a.startswith("-")]
            texts: list[str] = []
            for f in files:
                texts.append(f)
                stem = re.sub(r"\.(sha\d*|sha\d+sum|md5|sum|asc)$", "", f, flags=re.I)
                texts.append(stem)
            if not files or "-" in files:
                texts.extend(_upstream_text(cmd, before))
            for r in cmd.redirects:
                if r.body is not None:
                    texts.append(r.body)
                elif r.op == "<":
                    texts.append(r.target.value)
            return texts
        if _openssl_hash(cmd):
            if not (cmd.captured or cmd.pipe_out):
                return None
            return args + _upstream_text(cmd, before)
        if name in {"gpg", "gpg2"} and any(
            a in {"--verify", "--decrypt", "-d"} or a.startswith("--verify") for a in args
        ):
            return _gpg_texts(args)
        if name in {"gpgv", "gpgv2"}:
            return _gpg_texts(args)
        if name == "cosign" and args and args[0] == "verify-blob":
            return args[1:]
        if name in {"minisign", "signify"} and "-V" in args:
            return args
        if name == "rpm" and any(a in {"-K", "--checksig"} for a in args):
            return args
        return None

    # -- PowerShell --

    def _powershell(self, script: Script) -> None:
        for stmt, offset in _ps_statements(script.text):
            line = script.line_of(offset)
            fetch = _ps_fetch(stmt, line)
            if fetch is not None:
                if fetch.target and not _opaque(fetch.target):
                    d = Download(fetch, _names(fetch.target))
                    d.trust = bool(_TRUST_NAME.search(_base(fetch.target)))
                    self.downloads.append(d)
                continue
            m = re.search(
                r"Get-(?:FileHash|AuthenticodeSignature)\s+(?:-Path\s+|-LiteralPath\s+)?(\S+)",
                stmt,
                re.I,
            )
            if m:
                target = m.group(1).strip("'\"()")
                for d in self._same_files([target]):
                    d.verified = True
                continue
            if re.match(r"\s*(Remove-Item|Write-Host|Test-Path|rm|del)\b", stmt, re.I):
                continue
            words = [w.strip("'\"(),") for w in re.split(r"[\s,=]+", stmt)]
            for d in self._same_files(words):
                if d.verified or d.used_at is not None or d.trust:
                    continue
                d.used_at = line
                d.used_by = words[0] if words else "?"


def _ps_statements(text: str) -> Iterator[tuple[str, int]]:
    start = 0
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in ";\n{}":
            if text[start:i].strip():
                yield text[start:i], start
            start = i + 1
    if text[start:].strip():
        yield text[start:], start


_PS_URL = r"(?:'([^']*)'|\"([^\"]*)\"|(\$[\w:]+)|(\S+))"


def _ps_fetch(stmt: str, line: int) -> Fetch | None:
    m = re.search(r"\b(Invoke-WebRequest|iwr|Start-BitsTransfer|curl|wget)\b(.*)", stmt, re.I)
    if m:
        rest = m.group(2)
        out = re.search(r"-(?:OutFile|Destination)\s+" + _PS_URL, rest, re.I)
        uri = re.search(r"-(?:Uri|Source)\s+" + _PS_URL, rest, re.I)
        if out is None:
            return None
        url = next((g for g in uri.groups() if g), "") if uri else ""
        target = next((g for g in out.groups() if g), "")
        return Fetch(m.group(1), url, "file", target, False, line)
    m = re.search(r"\.DownloadFile\(\s*" + _PS_URL + r"\s*,\s*" + _PS_URL, stmt, re.I)
    if m:
        groups = m.groups()
        url = next((g for g in groups[:4] if g), "")
        target = next((g for g in groups[4:] if g), "").rstrip(")")
        return Fetch("WebClient", url, "file", target, False, line)
    return None


def powershell_pipe_to_shell(text: str) -> bool:
    return bool(
        re.search(
            r"(iex|Invoke-Expression)\b[^;\n]*(DownloadString|iwr|irm|Invoke-WebRequest|Invoke-RestMethod)"
            r"|(DownloadString|iwr|irm|Invoke-WebRequest|Invoke-RestMethod)[^;\n]*\|\s*(iex|Invoke-Expression)\b",
            text,
            re.I,
        )
    )


def powershell_urls(text: str) -> list[tuple[str, int]]:
    out = []
    for stmt, offset in _ps_statements(text):
        fetch = _ps_fetch(stmt, 0)
        if fetch is not None:
            out.append((fetch.url, offset))
    return out


# --- name matching -------------------------------------------------------------------


def _base(path: str) -> str:
    return normalize(path).rstrip("/").rsplit("/", 1)[-1]


def _names(path: str) -> set[str]:
    return {_base(path)} if path and path != "-" else set()


def _opaque(path: str) -> bool:
    """A name that is only a variable (``$f``, ``${1}``): we cannot follow it."""
    return bool(re.fullmatch(r"\$\{?[A-Za-z0-9_@*#?]+\}?", _base(path))) or not _base(path)


def _mentions_any(d: Download, texts: Iterable[str]) -> bool:
    return _matches_text(d, list(texts))


def _matches_text(d: Download, texts: list[str]) -> bool:
    for name in d.names:
        pattern = re.compile(r"(?<![\w.-])" + re.escape(name) + r"(?![\w-]|\.\w)")
        if any(pattern.search(normalize(t)) for t in texts):
            return True
    return False


def _openssl_hash(cmd: Command) -> bool:
    return (
        cmd.name == "openssl"
        and bool(cmd.args)
        and (cmd.args[0] == "dgst" or cmd.args[0].startswith("sha"))
    )


def _feeds_hasher(nxt: Command | None) -> bool:
    return nxt is not None and (nxt.name in _HASHERS or _openssl_hash(nxt))


def _specific(cmd: Command) -> bool:
    """A check that names its files (so an unmatched name means "not this file")."""
    name = cmd.name
    if name in _HASHERS:
        files = [a for a in cmd.args if not a.startswith("-")]
        return not files or any(not re.search(r"(?i)sums|checksum", f) for f in files)
    return True


def _upstream_text(cmd: Command, before: Iterable[Command]) -> list[str]:
    texts: list[str] = []
    for c in before:
        if c.pipeline == cmd.pipeline and c.depth == cmd.depth and c.position < cmd.position:
            texts.extend(w.value for w in c.argv)
            texts.extend(w.value for w in c.assignments)
    return texts


def _gpg_texts(args: list[str]) -> list[str]:
    files = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in {"-o", "--output", "--homedir", "--keyring", "--status-fd", "--trust-model",
                 "--default-key", "-u", "--local-user", "--keyserver", "--status-file",
                 "--verify-options", "--logger-fd", "--passphrase-fd"}:  # fmt: skip
            skip = True
            continue
        if not a.startswith("-"):
            files.append(a)
    texts = list(files)
    for f in files:
        texts.append(re.sub(r"\.(asc|sig|sign|gpg)$", "", f))
    return texts


def _is_key_use(cmd: Command) -> bool:
    name = cmd.name
    args = cmd.args
    if name in {"gpg", "gpg2"}:
        return any(a in {"--import", "--dearmor", "--enarmor"} for a in args)
    if name == "apt-key":
        return "add" in args
    if name == "rpm":
        return "--import" in args
    if name == "tee":
        return any(re.search(r"(?i)(keyring|trusted\.gpg|\.gpg$|\.asc$|\.pub$)", a) for a in args)
    return False


def _redirect_sources(cmd: Command) -> list[str]:
    return [r.target.value for r in cmd.redirects if r.op == "<"]
