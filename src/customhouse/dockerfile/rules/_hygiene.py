"""Build habits with a security effect."""

from __future__ import annotations

import re
from collections.abc import Iterator

from customhouse.dockerfile._shell import Command
from customhouse.dockerfile.rules._base import Context, Hit, Severity, rule


@rule("CH601", "Distribution upgrade in the build", Severity.LOW, "hygiene",
      trivy=("AVD-DS-0024",))  # fmt: skip
def dist_upgrade(ctx: Context) -> Iterator[Hit]:
    for _, script in ctx.all_runs():
        for cmd in script.commands:
            what = _upgrade(cmd)
            if what:
                yield Hit(
                    script.line_of(cmd.offset),
                    f"{what} pulls whatever is newest at build time: the image no longer"
                    " matches its base and rebuilds differ; update the base image instead",
                )


def _upgrade(cmd: Command) -> str | None:
    words = [a for a in cmd.args if not a.startswith("-")]
    if not words:
        return None
    sub = words[0]
    name = cmd.name
    if name in {"apt-get", "apt", "aptitude"} and sub in {
        "upgrade", "dist-upgrade", "full-upgrade", "safe-upgrade"
    }:  # fmt: skip
        return f"{name} {sub}"
    if name == "apk" and sub == "upgrade":
        return "apk upgrade"
    if (
        name in {"yum", "dnf", "microdnf"}
        and sub in {"update", "upgrade", "distro-sync"}
        and len(words) == 1
    ):
        return f"{name} {sub}"
    if name == "zypper" and sub in {"up", "update", "dup", "dist-upgrade"}:
        return f"zypper {sub}"
    return None


_PIP = re.compile(r"pip[0-9.]*$")


def unpinned(cmd: Command) -> list[str]:
    """Packages a package-manager command installs without a version."""
    name, args = cmd.name, list(cmd.args)
    if name in {"python", "python3"} and args[:2] == ["-m", "pip"]:
        name, args = "pip", args[2:]
    pkgs: list[str] = []
    if name in {"apt-get", "apt"} and args and "install" in args:
        rest = args[args.index("install") + 1 :]
        pkgs = [a for a in _positional(rest, {"-o", "-t", "--target-release"}) if "=" not in a]
        pkgs = [p for p in pkgs if not p.endswith(".deb") and not p.startswith(("/", "."))]
    elif name == "apk" and args and "add" in args:
        rest = args[args.index("add") + 1 :]
        if "--virtual" in rest or "-t" in rest:
            return []  # a virtual build-dependency group, removed again
        pkgs = [
            a
            for a in _positional(rest, {"-X", "--repository", "--root", "-p"})
            if not re.search(r"[=<>~]", a)
        ]
    elif _PIP.match(name) and args and args[0] == "install":
        rest = args[1:]
        if any(
            a in {"-r", "--requirement", "-c", "--constraint", "-e", "--editable"} for a in rest
        ):
            return []
        pkgs = [
            a
            for a in _positional(
                rest,
                {
                    "-i",
                    "--index-url",
                    "--extra-index-url",
                    "-f",
                    "--find-links",
                    "--target",
                    "-t",
                    "--prefix",
                    "--root",
                },
            )
            if not re.search(r"(==|~=|===|@|\.whl$|\.tar\.gz$|^[./])", a)
        ]
    elif (
        name == "npm"
        and args
        and args[0] in {"install", "i", "add"}
        and any(a in {"-g", "--global"} for a in args)
    ):
        pkgs = [a for a in _positional(args[1:], set()) if "@" not in a.lstrip("@")]
    elif name == "gem" and args and args[0] == "install":
        if any(a in {"-v", "--version"} or a.startswith("--version=") for a in args):
            return []
        pkgs = [
            a
            for a in _positional(args[1:], {"-i", "--install-dir", "-n", "--bindir"})
            if ":" not in a
        ]
    return [p for p in pkgs if "$" not in p]


def _positional(args: list[str], with_value: set[str]) -> list[str]:
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in with_value:
            skip = True
            continue
        if a.startswith("-") or a in {"&&", ";"}:
            continue
        out.append(a)
    return out


@rule("CH602", "Packages installed without a version", Severity.INFO, "hygiene",
      hadolint=("DL3008", "DL3013", "DL3016", "DL3018", "DL3028"))  # fmt: skip
def unpinned_packages(ctx: Context) -> Iterator[Hit]:
    for _, script in ctx.all_runs():
        for cmd in script.commands:
            pkgs = unpinned(cmd)
            if pkgs:
                shown = ", ".join(pkgs[:6]) + (
                    f" and {len(pkgs) - 6} more" if len(pkgs) > 6 else ""
                )
                yield Hit(
                    script.line_of(cmd.offset),
                    f"{cmd.name} installs {shown} without a version: rebuilds may get different"
                    " (or compromised newer) packages",
                )


@rule("CH603", "No HEALTHCHECK", Severity.INFO, "hygiene", history=False,
      trivy=("AVD-DS-0026",))  # fmt: skip
def no_healthcheck(ctx: Context) -> Iterator[Hit]:
    stages = ctx.dockerfile.stages
    stage = ctx.dockerfile.final_stage
    while True:
        if any(ins.keyword == "HEALTHCHECK" for ins in stage.instructions):
            return
        if stage.parent is None:
            break
        stage = stages[stage.parent]
    final = ctx.dockerfile.final_stage
    yield Hit(
        final.from_instruction.start_line,
        "the final stage has no HEALTHCHECK: orchestrators cannot tell a hung service from"
        " a healthy one (or state HEALTHCHECK NONE on purpose)",
    )


@rule("CH604", "SSH port exposed", Severity.MEDIUM, "hygiene",
      trivy=("AVD-DS-0004",))  # fmt: skip
def expose_ssh(ctx: Context) -> Iterator[Hit]:
    for _, ins in ctx.instructions("EXPOSE"):
        for port in ins.args:
            spec = port.split("/", 1)[0]
            lo, _, hi = spec.partition("-")
            try:
                low, high = int(lo), int(hi or lo)
            except ValueError:
                continue
            if low <= 22 <= high:
                yield Hit(
                    ins.start_line,
                    f"EXPOSE {port}: an SSH server in a container is a second, unmanaged way in;"
                    " use docker exec / kubectl exec",
                )
