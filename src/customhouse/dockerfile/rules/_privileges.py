"""Who the container runs as, and what the build grants."""

from __future__ import annotations

import re
from collections.abc import Iterator

from customhouse.dockerfile._shell import Command
from customhouse.dockerfile.parse import word_value
from customhouse.dockerfile.rules._base import Context, Hit, Severity, rule

_ROOT = {"root", "0", "containeradministrator"}


@rule("CH501", "Final stage runs as root", Severity.MEDIUM, "privileges",
      hadolint=("DL3002",), trivy=("AVD-DS-0002",))  # fmt: skip
def runs_as_root(ctx: Context) -> Iterator[Hit]:
    stages = ctx.dockerfile.stages
    chain = [ctx.dockerfile.final_stage]
    while chain[-1].parent is not None:
        chain.append(stages[chain[-1].parent])  # type: ignore[index]
    for stage in chain:
        users = [ins for ins in stage.instructions if ins.keyword == "USER"]
        if users:
            last = users[-1]
            user = word_value(last.args[0]).split(":", 1)[0].strip()
            if user.lower() in _ROOT:
                yield Hit(last.start_line, f"the image runs as {user}: the last USER is root")
            return
    final = ctx.dockerfile.final_stage
    yield Hit(
        final.from_instruction.start_line,
        "the final stage sets no USER, so the container runs as the base image's user"
        " (root unless the base sets another); add USER <non-root> at the end",
    )


@rule("CH502", "sudo in RUN", Severity.MEDIUM, "privileges", hadolint=("DL3004",),
      trivy=("AVD-DS-0010",))  # fmt: skip
def sudo(ctx: Context) -> Iterator[Hit]:
    for _, script in ctx.all_runs():
        for cmd in script.commands:
            if "sudo" in cmd.prefix or cmd.name == "sudo":
                yield Hit(
                    script.line_of(cmd.offset),
                    "sudo in a build step: the build already runs as a chosen USER; sudo"
                    " adds a setuid root binary and a privilege path to the image",
                )


def _chmod_modes(cmd: Command) -> list[str]:
    if cmd.name != "chmod":
        return []
    return [a for a in cmd.args if not a.startswith("-") or re.fullmatch(r"-[rwxXst]+", a)][:1]


def world_writable(mode: str) -> bool:
    if re.fullmatch(r"[0-7]{3,4}", mode):
        digits = mode.zfill(4)
        sticky = int(digits[0]) & 1
        return bool(int(digits[3]) & 2) and not sticky
    for clause in mode.split(","):
        m = re.fullmatch(r"([ugoa]*)([-+=])([rwxXst]*)", clause)
        if m and m.group(2) in "+=" and "w" in m.group(3) and "t" not in m.group(3):
            who = m.group(1)
            if "a" in who or "o" in who:
                return True
    return False


def setuid(mode: str) -> bool:
    if re.fullmatch(r"[0-7]{4}", mode):
        return bool(int(mode[0]) & 4)
    for clause in mode.split(","):
        m = re.fullmatch(r"([ugoa]*)([-+=])([rwxXst]*)", clause)
        if m and m.group(2) in "+=" and "s" in m.group(3):
            who = m.group(1)
            if not who or "u" in who or "a" in who:
                return True
    return False


def _modes(ctx: Context) -> Iterator[tuple[int, str, str]]:
    for _, ins in ctx.instructions("COPY", "ADD"):
        mode = ins.flag("chmod")
        if mode:
            yield ins.start_line, mode, f"{ins.keyword} --chmod={mode}"
    for _, script in ctx.all_runs():
        for cmd in script.commands:
            for mode in _chmod_modes(cmd):
                yield script.line_of(cmd.offset), mode, f"chmod {mode}"


@rule("CH503", "World-writable permissions", Severity.MEDIUM, "privileges")
def chmod_world_writable(ctx: Context) -> Iterator[Hit]:
    for line, mode, what in _modes(ctx):
        if world_writable(mode):
            yield Hit(line, f"{what} makes files writable by every user (no sticky bit)")


@rule("CH504", "setuid bit set", Severity.HIGH, "privileges")
def chmod_setuid(ctx: Context) -> Iterator[Hit]:
    for line, mode, what in _modes(ctx):
        if setuid(mode):
            yield Hit(line, f"{what} sets the setuid bit: the file runs with its owner's rights")
