"""The rule set: every rule registers itself on import."""

from __future__ import annotations

from customhouse.dockerfile.rules import (  # noqa: F401  (registration)
    _consistency,
    _hygiene,
    _privileges,
    _provenance,
    _secrets,
    _transport,
    _verification,
)
from customhouse.dockerfile.rules._base import (
    Context,
    Hit,
    Rule,
    Settings,
    Severity,
    registered,
)

RULES: tuple[Rule, ...] = registered()
RULES_BY_ID = {r.id: r for r in RULES}

__all__ = ["RULES", "RULES_BY_ID", "Context", "Hit", "Rule", "Settings", "Severity"]
