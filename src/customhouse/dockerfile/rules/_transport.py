"""How things are fetched: plain HTTP, disabled TLS checks, unauthenticated packages."""

from __future__ import annotations

import re
from collections.abc import Iterator

from customhouse.dockerfile._flow import is_plain_http, parse_fetch, powershell_urls
from customhouse.dockerfile._shell import Command
from customhouse.dockerfile.rules._base import Context, Hit, Severity, rule

_APT_SOURCE = re.compile(r"^\s*deb(-src)?\s+(\[[^\]]*\]\s+)?(http|ftp)://", re.M)
_URL = re.compile(r"(?:https?|ftp|git)://[^\s'\"]+", re.I)


def _http_urls(cmd: Command) -> Iterator[str]:
    """Plain-HTTP URLs that a command fetches from."""
    for fetch in parse_fetch(cmd, 0):
        if is_plain_http(fetch.url):
            yield fetch.url
    name, args = cmd.name, cmd.args
    if name == "git" and args and args[0] in {"clone", "fetch", "pull", "submodule", "remote"}:
        for a in args:
            if is_plain_http(a):
                yield a
    if name in {"pip", "pip3"} or re.fullmatch(r"pip[0-9.]*", name) or name in {"npm", "yarn"}:
        for a in args:
            for url in _URL.findall(a):
                if is_plain_http(url):
                    yield url
    if name in {"apk"}:
        for i, a in enumerate(args):
            if a in {"-X", "--repository"} and i + 1 < len(args) and is_plain_http(args[i + 1]):
                yield args[i + 1]


@rule("CH201", "Download over plain HTTP", Severity.HIGH, "transport")  # fmt: skip
def plain_http(ctx: Context) -> Iterator[Hit]:
    for _, ins in ctx.instructions("ADD"):
        for src in ins.args[:-1]:
            if is_plain_http(src):
                yield Hit(ins.start_line, f"ADD fetches {src} over plain HTTP")
    for _, script in ctx.all_runs():
        if script.kind == "powershell":
            for url, offset in powershell_urls(script.text):
                if is_plain_http(url):
                    yield Hit(script.line_of(offset), f"download of {url} over plain HTTP")
            continue
        for cmd in script.commands:
            for url in _http_urls(cmd):
                yield Hit(
                    script.line_of(cmd.offset),
                    f"{cmd.name} fetches {url} over plain HTTP: anyone on the path can change it",
                )


@rule("CH202", "APT source over plain HTTP", Severity.LOW, "transport")
def apt_http(ctx: Context) -> Iterator[Hit]:
    for _, script in ctx.all_runs():
        for cmd in script.commands:
            writes_sources = any(
                "sources.list" in r.target.value or r.target.value.endswith(".sources")
                for r in cmd.redirects
                if r.op in (">", ">>")
            ) or (cmd.name == "tee" and any("sources.list" in a for a in cmd.args))
            texts: list[str] = []
            if writes_sources or cmd.name == "add-apt-repository":
                texts.extend(cmd.args)
                texts.extend(r.body for r in cmd.redirects if r.body is not None)
            if cmd.name == "tee" and any("sources.list" in a for a in cmd.args):
                texts.extend(_upstream(script.commands, cmd))
            for text in texts:
                if _APT_SOURCE.search(text):
                    yield Hit(
                        script.line_of(cmd.offset),
                        "an APT source uses plain HTTP: package signatures still protect"
                        " content, but metadata can be replayed or withheld and traffic is"
                        " visible",
                    )
                    break


def _upstream(commands: tuple[Command, ...], cmd: Command) -> list[str]:
    return [
        w.value
        for c in commands
        if c.pipeline == cmd.pipeline and c.position < cmd.position and c.depth == cmd.depth
        for w in c.argv
    ]


@rule("CH203", "TLS certificate checks disabled", Severity.HIGH, "transport")
def tls_disabled(ctx: Context) -> Iterator[Hit]:
    for _, ins in ctx.instructions("ENV", "ARG"):
        pairs = (
            dict(zip(ins.args[::2], ins.args[1::2], strict=False)) if ins.keyword == "ENV" else {}
        )
        for key, value in pairs.items():
            v = value.strip("'\"").lower()
            if (key == "GIT_SSL_NO_VERIFY" and v not in {"", "0", "false"}) or (
                key == "NODE_TLS_REJECT_UNAUTHORIZED" and v == "0"
            ):
                yield Hit(ins.start_line, f"{key}={value} turns off TLS certificate checks")
    for _, script in ctx.all_runs():
        if script.kind == "powershell" and re.search(
            r"ServerCertificateValidationCallback|SkipCertificateCheck", script.text, re.I
        ):
            yield Hit(script.instruction.start_line, "PowerShell certificate checks disabled")
        for cmd in script.commands:
            reason = _tls_off(cmd)
            if reason:
                yield Hit(script.line_of(cmd.offset), reason)


def _tls_off(cmd: Command) -> str | None:
    if any(f.insecure for f in parse_fetch(cmd, 0)):
        flag = "--no-check-certificate" if cmd.name == "wget" else "-k/--insecure"
        return (
            f"{cmd.name} {flag} accepts any certificate, so TLS no longer authenticates the server"
        )
    for a in cmd.assignments:
        if re.match(r"(GIT_SSL_NO_VERIFY=(1|true)|NODE_TLS_REJECT_UNAUTHORIZED=0)", a.value, re.I):
            return f"{a.value} turns off TLS certificate checks"
    if cmd.name == "git":
        text = " ".join(cmd.args).lower()
        if re.search(r"http\.sslverify(=|\s+)false", text):
            return "git http.sslVerify=false turns off TLS certificate checks"
    return None


@rule("CH204", "Unauthenticated packages allowed", Severity.HIGH, "transport")
def unauthenticated_packages(ctx: Context) -> Iterator[Hit]:
    for _, script in ctx.all_runs():
        for cmd in script.commands:
            reason = _unauthenticated(cmd)
            if reason:
                yield Hit(script.line_of(cmd.offset), reason)
            for r in cmd.redirects:
                if r.op in (">", ">>") and "sources.list" in r.target.value:
                    texts = [*cmd.args, *([r.body] if r.body else [])]
                    if any(re.search(r"trusted=yes\s*\]?\s*(?!file:)[a-z]+://", t) for t in texts):
                        yield Hit(
                            script.line_of(cmd.offset),
                            "an APT source marked [trusted=yes] is installed without signature checks",
                        )


def _unauthenticated(cmd: Command) -> str | None:
    name, args = cmd.name, cmd.args
    joined = " ".join(args)
    if name in {"apt-get", "apt", "aptitude"}:
        for flag in ("--allow-unauthenticated", "--allow-insecure-repositories", "--force-yes"):
            if flag in args:
                return f"{name} {flag} installs packages whose signatures were not checked"
        if re.search(r"AllowUnauthenticated\s*=?\s*(true|1|yes)", joined, re.I):
            return f"{name} -o APT::Get::AllowUnauthenticated=true skips signature checks"
    if name == "apk" and "--allow-untrusted" in args and args and _apk_remote_install(args):
        return "apk --allow-untrusted installs packages without checking their signatures"
    if name in {"yum", "dnf", "microdnf", "zypper"} and (
        "--nogpgcheck" in args or "--no-gpg-checks" in args
    ):
        return f"{name} installs packages without checking their signatures"
    if name == "rpm" and any(a in {"--nosignature", "--nodigest"} for a in args):
        return "rpm skips signature or digest checks"
    return None


@rule("CH205", "pip --trusted-host", Severity.MEDIUM, "transport")
def pip_trusted_host(ctx: Context) -> Iterator[Hit]:
    for _, ins in ctx.instructions("ENV"):
        if "PIP_TRUSTED_HOST" in ins.args[::2]:
            yield Hit(ins.start_line, "PIP_TRUSTED_HOST lets pip skip TLS checks for that host")
    for _, script in ctx.all_runs():
        for cmd in script.commands:
            pipish = cmd.name.startswith("pip") or (
                cmd.name.startswith("python") and "pip" in cmd.args[:3]
            )
            if pipish and any(
                a == "--trusted-host" or a.startswith("--trusted-host=") for a in cmd.args
            ):
                yield Hit(
                    script.line_of(cmd.offset),
                    "pip --trusted-host accepts that host over plain HTTP or with a bad certificate",
                )
            elif (
                pipish
                and cmd.args[:2] == ("config", "set")
                and "trusted-host" in " ".join(cmd.args)
            ):
                yield Hit(script.line_of(cmd.offset), "pip config sets a trusted-host")


@rule("CH206", "npm/yarn strict-ssl disabled", Severity.HIGH, "transport")
def npm_strict_ssl(ctx: Context) -> Iterator[Hit]:
    for _, ins in ctx.instructions("ENV"):
        for key, value in zip(ins.args[::2], ins.args[1::2], strict=False):
            if key.lower() == "npm_config_strict_ssl" and value.strip("'\"").lower() == "false":
                yield Hit(
                    ins.start_line, "npm_config_strict_ssl=false turns off TLS checks for npm"
                )
    for _, script in ctx.all_runs():
        for cmd in script.commands:
            if cmd.name not in {"npm", "yarn", "pnpm"}:
                continue
            joined = " ".join(cmd.args).lower()
            if re.search(r"strict-ssl(\s+|=)false", joined) or "--strict-ssl=false" in joined:
                yield Hit(
                    script.line_of(cmd.offset),
                    f"{cmd.name} strict-ssl false accepts any certificate from the registry",
                )


def _apk_remote_install(args: tuple[str, ...]) -> bool:
    """apk add/fix/upgrade of packages that do not all come from local files or repos."""
    words = [a for a in args if not a.startswith("-")]
    if not words or words[0] not in {"add", "fix", "upgrade"}:
        return False
    repos = [args[i + 1] for i, a in enumerate(args[:-1]) if a in {"-X", "--repository"}]
    if repos and all(not re.match(r"[a-z]+://", r) for r in repos):
        return False
    pkgs = words[1:]
    return not pkgs or not all(p.endswith(".apk") and "://" not in p for p in pkgs)
