"""What a rule is, and what it sees."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from customhouse.dockerfile._flow import StageFlow
from customhouse.dockerfile._script import Script, script_of
from customhouse.dockerfile.model import Dockerfile, Instruction, Stage


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (one of {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule's raw result: where and what."""

    line: int
    message: str
    end_line: int | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """The parts of the configuration that rules read."""

    trusted_registries: tuple[str, ...] = ("docker.io", "mcr.microsoft.com")
    allowed_namespaces: tuple[str, ...] = ()


@dataclass
class Context:
    """A parsed Dockerfile plus cached per-instruction analyses."""

    dockerfile: Dockerfile
    settings: Settings = field(default_factory=Settings)
    # built from an image's history: no FROM lines, no stage names
    from_history: bool = False
    _scripts: dict[int, Script] = field(default_factory=dict)

    def shell_of(self, stage: Stage) -> tuple[str, ...]:
        return self._shells[stage.index]

    @cached_property
    def _shells(self) -> dict[int, tuple[str, ...]]:
        shells: dict[int, tuple[str, ...]] = {}
        for stage in self.dockerfile.stages:
            shell: tuple[str, ...] = ("/bin/sh", "-c")
            if stage.parent is not None:
                shell = shells.get(stage.parent, shell)
            elif stage.base and "windows" in stage.base.lower():
                shell = ("cmd", "/S", "/C")
            shells[stage.index] = shell
        return shells

    def runs(self, stage: Stage) -> Iterator[Script]:
        """The RUN instructions of ``stage``, read with the shell in force."""
        shell = self.shell_of(stage)
        for ins in stage.instructions:
            if ins.keyword == "SHELL" and ins.json and ins.args:
                shell = ins.args
            if ins.keyword == "RUN":
                key = id(ins)
                script = self._scripts.get(key)
                if script is None:
                    script = self._scripts[key] = script_of(ins, shell)
                yield script

    def all_runs(self) -> Iterator[tuple[Stage, Script]]:
        for stage in self.dockerfile.stages:
            for script in self.runs(stage):
                yield stage, script

    @cached_property
    def flows(self) -> dict[int, StageFlow]:
        flows: dict[int, StageFlow] = {}
        for stage in self.dockerfile.stages:
            flow = StageFlow()
            scripts = {id(s.instruction): s for s in self.runs(stage)}
            for ins in stage.instructions:
                if ins.keyword == "ADD":
                    flow.add(ins)
                elif ins.keyword == "RUN":
                    flow.run(scripts[id(ins)])
            flows[stage.index] = flow
        return flows

    def instructions(self, *keywords: str) -> Iterator[tuple[Stage, Instruction]]:
        for stage in self.dockerfile.stages:
            for ins in stage.instructions:
                if ins.keyword in keywords:
                    yield stage, ins


Check = Callable[[Context], Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: Severity
    category: str
    check: Check
    # applies to an image history (created_by lines) as well as to a Dockerfile
    history: bool = True
    hadolint: tuple[str, ...] = ()
    trivy: tuple[str, ...] = ()


_REGISTRY: list[Rule] = []


def rule(
    id: str,
    title: str,
    severity: Severity,
    category: str,
    *,
    history: bool = True,
    hadolint: tuple[str, ...] = (),
    trivy: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        _REGISTRY.append(Rule(id, title, severity, category, check, history, hadolint, trivy))
        return check

    return register


def registered() -> tuple[Rule, ...]:
    return tuple(sorted(_REGISTRY, key=lambda r: r.id))
