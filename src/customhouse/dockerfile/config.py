"""The lint configuration (``.customhouse-lint.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from customhouse.dockerfile.errors import LintConfigError
from customhouse.dockerfile.rules import RULES_BY_ID, Settings, Severity
from customhouse.yamltree import YamlAliasError, load_without_aliases

DEFAULT_NAME = ".customhouse-lint.yaml"
_KEYS = {"trusted_registries", "allowed_namespaces", "ignore", "severity", "fail_on"}


@dataclass(frozen=True, slots=True)
class LintConfig:
    """Which rules run, what they trust, and which findings are shown or fail the gate.

    ``severity`` is the threshold below which findings are not reported;
    ``fail_on`` the lowest severity that makes the command fail (exit 1).
    """

    settings: Settings = field(default_factory=Settings)
    ignore: frozenset[str] = frozenset()
    severity: Severity = Severity.INFO
    fail_on: Severity = Severity.HIGH

    @classmethod
    def load(cls, path: str | Path) -> LintConfig:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LintConfigError(f"{name}: no such configuration file") from None
        except OSError as e:
            raise LintConfigError(f"{name}: cannot read: {e.strerror}") from e
        try:
            data = load_without_aliases(text, yaml.SafeLoader)  # (as yaml.safe_load)
        except YamlAliasError as e:
            raise LintConfigError(f"{name}: {e}") from None
        except yaml.YAMLError as e:
            raise LintConfigError(f"{name}: not valid YAML: {e}") from e
        return cls.from_mapping(data or {}, source=name)

    @classmethod
    def from_mapping(cls, data: Any, *, source: str = "config") -> LintConfig:
        if not isinstance(data, dict):
            raise LintConfigError(f"{source}: expected a mapping at the top level")
        unknown = set(data) - _KEYS
        if unknown:
            raise LintConfigError(
                f"{source}: unknown key(s) {', '.join(sorted(map(str, unknown)))}"
                f" (known: {', '.join(sorted(_KEYS))})"
            )
        defaults = Settings()
        trusted = _strings(data, "trusted_registries", source, defaults.trusted_registries)
        namespaces = _strings(data, "allowed_namespaces", source, ())
        ignore = frozenset(s.upper() for s in _strings(data, "ignore", source, ()))
        bad = sorted(i for i in ignore if i not in RULES_BY_ID)
        if bad:
            raise LintConfigError(f"{source}: unknown rule id(s) in ignore: {', '.join(bad)}")
        return cls(
            settings=Settings(trusted_registries=trusted, allowed_namespaces=namespaces),
            ignore=ignore,
            severity=_severity(data, "severity", source, Severity.INFO),
            fail_on=_severity(data, "fail_on", source, Severity.HIGH),
        )


def _strings(
    data: dict[str, Any], key: str, source: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    if key not in data:
        return default
    value = data[key]
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LintConfigError(f"{source}: {key} must be a list of strings")
    return tuple(value)


def _severity(data: dict[str, Any], key: str, source: str, default: Severity) -> Severity:
    if key not in data:
        return default
    try:
        return Severity.parse(str(data[key]))
    except ValueError as e:
        raise LintConfigError(f"{source}: {key}: {e}") from e
