"""Dockerfile review: parse with BuildKit's parser, apply the CH rules.

Public surface: :func:`parse_text`/:func:`parse_path` (the model),
:func:`lint`/:func:`lint_text`/:func:`lint_path`/:func:`lint_history` (findings),
:class:`LintConfig`, :class:`Finding`, :class:`Severity` and :data:`RULES`.
"""

from __future__ import annotations

from customhouse.dockerfile.config import LintConfig
from customhouse.dockerfile.errors import DockerfileError, DockerfileParseError, LintConfigError
from customhouse.dockerfile.lint import Finding, lint, lint_history, lint_path, lint_text
from customhouse.dockerfile.parse import parse_path, parse_text
from customhouse.dockerfile.rules import RULES, Severity

__all__ = [
    "RULES",
    "DockerfileError",
    "DockerfileParseError",
    "Finding",
    "LintConfig",
    "LintConfigError",
    "Severity",
    "lint",
    "lint_history",
    "lint_path",
    "lint_text",
    "parse_path",
    "parse_text",
]
