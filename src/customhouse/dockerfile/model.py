"""The parsed Dockerfile: immutable stages and instructions with line numbers."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Heredoc:
    """A ``<<NAME`` here-document attached to an instruction."""

    name: str
    content: str


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction as BuildKit reads it.

    ``args`` are the parser's values: one string (the command line) for the shell
    form of RUN/CMD/ENTRYPOINT, the list elements for the JSON form, key/value
    pairs for ENV/LABEL, the words otherwise. ``flags`` are the raw ``--name=value``
    options. ``sub_keyword`` is the instruction inside ``ONBUILD``.
    """

    keyword: str
    args: tuple[str, ...]
    flags: tuple[str, ...]
    json: bool
    original: str
    start_line: int
    end_line: int
    heredocs: tuple[Heredoc, ...] = ()
    sub_keyword: str | None = None
    # (offset into ``original``, line number) at which each joined source line starts
    line_starts: tuple[tuple[int, int], ...] = ()

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` (``""`` for a bare ``--name``), or None."""
        prefix = f"--{name}"
        for raw in self.flags:
            if raw == prefix:
                return ""
            if raw.startswith(prefix + "="):
                return raw[len(prefix) + 1 :]
        return None

    def flag_values(self, name: str) -> tuple[str, ...]:
        prefix = f"--{name}="
        return tuple(raw[len(prefix) :] for raw in self.flags if raw.startswith(prefix))

    @property
    def shell_form(self) -> bool:
        return not self.json

    @property
    def command_text(self) -> str:
        """The command line of a RUN/CMD/ENTRYPOINT (JSON elements joined by spaces)."""
        return " ".join(self.args)

    def line_at(self, offset: int) -> int:
        """The source line of character ``offset`` of ``original``."""
        if not self.line_starts:
            return self.start_line
        index = bisect_right(self.line_starts, offset, key=lambda t: t[0]) - 1
        return self.line_starts[max(index, 0)][1]


@dataclass(frozen=True, slots=True)
class ArgDecl:
    """``ARG name[=default]``."""

    name: str
    default: str | None
    line: int


@dataclass(frozen=True, slots=True)
class Stage:
    """One ``FROM`` and the instructions up to the next one."""

    index: int
    name: str | None
    base_text: str
    # the base after ARG substitution; None when a variable in it has no value
    base: str | None
    platform: str | None
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]
    # the stage this one is built on (``FROM <earlier stage name>``), if any
    parent: int | None = None

    @property
    def is_scratch(self) -> bool:
        return self.base is not None and self.base.lower() == "scratch"

    def all_instructions(self) -> tuple[Instruction, ...]:
        return (self.from_instruction, *self.instructions)


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A whole parsed Dockerfile."""

    path: str
    directives: tuple[tuple[str, str], ...]
    escape: str
    global_args: tuple[ArgDecl, ...]
    prelude: tuple[Instruction, ...]
    stages: tuple[Stage, ...]
    # line -> rule ids ignored there (``# customhouse:ignore=CH123``)
    ignores: tuple[tuple[int, frozenset[str]], ...] = field(default=())
    # line numbers of full-line comments (to let an ignore above skip comment lines)
    comment_lines: frozenset[int] = field(default=frozenset())

    def directive(self, name: str) -> str | None:
        for key, value in self.directives:
            if key == name.lower():
                return value
        return None

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    def stage_named(self, name: str) -> Stage | None:
        lowered = name.lower()
        for stage in self.stages:
            if stage.name == lowered:
                return stage
        return None
