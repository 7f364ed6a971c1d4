"""The commands of a RUN instruction, read with the stage's shell."""

from __future__ import annotations

import re
from dataclasses import dataclass

from customhouse.dockerfile._shell import Command, Word, inline_script, parse_script
from customhouse.dockerfile.model import Instruction

_HEREDOC_ONLY = re.compile(r"<<-?(['\"]?)([A-Za-z0-9_]+)\1$")


@dataclass(frozen=True, slots=True)
class Script:
    """What a RUN runs: its text, its shell kind, and (for POSIX shells) its commands."""

    kind: str  # "posix", "powershell" or "cmd"
    text: str
    offset: int  # where ``text`` starts in the instruction's ``original``
    commands: tuple[Command, ...]
    instruction: Instruction

    def line_of(self, offset: int) -> int:
        return self.instruction.line_at(self.offset + offset)


def shell_kind(shell: tuple[str, ...]) -> str:
    exe = shell[0].replace("\\", "/").rsplit("/", 1)[-1].lower() if shell else "sh"
    if exe.startswith(("powershell", "pwsh")):
        return "powershell"
    if exe in {"cmd", "cmd.exe"}:
        return "cmd"
    return "posix"


def script_of(ins: Instruction, shell: tuple[str, ...]) -> Script:
    """Read a RUN instruction (shell or exec form, heredocs included)."""
    if ins.json:
        argv = tuple(Word(a, a, 0) for a in ins.args)
        text = " ".join(ins.args)
        if not argv:
            return Script("posix", "", 0, (), ins)
        probe = Command.of(
            argv,
            assignments=(),
            redirects=(),
            prefix=(),
            pipeline=0,
            position=0,
            pipe_in=False,
            pipe_out=False,
            depth=0,
            captured=False,
            offset=0,
        )
        inner = inline_script(probe)
        commands: list[Command] = [probe]
        if inner is not None:
            commands.extend(parse_script(inner.value, depth=1))
        return Script("posix", text, 0, tuple(commands), ins)
    kind = shell_kind(shell)
    text = ins.args[0] if ins.args else ""
    if ins.heredocs and _HEREDOC_ONLY.match(text.strip()):
        # RUN <<EOF: the here-document is the script the shell runs
        text = ins.heredocs[0].content
    offset = max(ins.original.find(text), 0)
    if kind != "posix":
        return Script(kind, text, offset, (), ins)
    if ins.heredocs and not _HEREDOC_ONLY.match((ins.args[0] if ins.args else "").strip()):
        # RUN cmd <<EOF ... : give the shell reader the whole text, bodies included
        text = ins.original.split(None, 1)[1] if " " in ins.original else ""
        offset = max(ins.original.find(text), 0)
    return Script(kind, text, offset, tuple(parse_script(text)), ins)
