"""CVSS vectors to a score and a qualitative severity (v2, v3.0, v3.1, v4.0).

The arithmetic is done by Red Hat's ``cvss`` package (well kept, follows the FIRST
specifications, including the v4.0 MacroVector lookup tables); this module is the
one place that touches it, so the rest of customhouse sees one small function and
one typed error.

For a v4.0 vector the score is that of the metrics present: CVSS-B for a base
vector, CVSS-BT / CVSS-BTE when threat or environmental metrics are given, as the
v4.0 specification names them. For v3.x and v2 it is the base score.
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
from typing import NamedTuple

from customhouse.errors import InputError

__all__ = ["CVSSError", "CVSSScore", "parse", "score", "severity_of"]

SEVERITIES = ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")


class CVSSError(InputError):
    """A CVSS vector is malformed, of an unknown version, or has invalid metrics."""


class CVSSScore(NamedTuple):  # (a dataclass would import dataclasses into every scan)
    version: str  # "2.0", "3.0", "3.1", "4.0"
    vector: str
    base_score: float
    severity: str  # NONE | LOW | MEDIUM | HIGH | CRITICAL (v2: LOW | MEDIUM | HIGH)

    @property
    def osv_type(self) -> str:
        """The OSV ``severity[].type`` for this vector."""
        return {"2.0": "CVSS_V2", "3.0": "CVSS_V3", "3.1": "CVSS_V3", "4.0": "CVSS_V4"}[
            self.version
        ]


def severity_of(base_score: float, version: str = "3.1") -> str:
    """The qualitative rating of a score: the v3.x/v4.0 scale, or NVD's three bands for v2."""
    if not 0.0 <= base_score <= 10.0:
        raise CVSSError(f"CVSS score {base_score} is outside 0.0-10.0")
    if version == "2.0":
        return "LOW" if base_score < 4.0 else "MEDIUM" if base_score < 7.0 else "HIGH"
    if base_score == 0.0:
        return "NONE"
    if base_score < 4.0:
        return "LOW"
    if base_score < 7.0:
        return "MEDIUM"
    if base_score < 9.0:
        return "HIGH"
    return "CRITICAL"


def parse(vector: str) -> CVSSScore:
    """Parse and score one vector; raise :class:`CVSSError` when it is not valid."""
    if not isinstance(vector, str):
        raise CVSSError(f"a CVSS vector must be a string, not {type(vector).__name__}")
    text = vector.strip()
    if not text or len(text) > 512 or not text.isascii():
        raise CVSSError(f"invalid CVSS vector {vector[:80]!r}")
    import cvss as _lib

    try:
        if text.startswith("CVSS:4.0/"):
            v4 = _lib.CVSS4(text)
            return CVSSScore("4.0", text, float(v4.base_score), severity_of(float(v4.base_score)))
        if text.startswith(("CVSS:3.0/", "CVSS:3.1/")):
            v3 = _lib.CVSS3(text)
            base = float(v3.scores()[0])
            version = text[5:8]
            return CVSSScore(version, text, base, severity_of(base, version))
        if text.startswith("CVSS:"):
            raise CVSSError(f"unsupported CVSS version in {text[:80]!r}")
        # v2 has no prefix; NVD and OSV write it bare ("AV:N/AC:L/Au:N/C:P/I:P/A:P")
        bare = text[1:-1] if text.startswith("(") and text.endswith(")") else text
        v2 = _lib.CVSS2(bare)
        base = float(v2.scores()[0])
        return CVSSScore("2.0", text, base, severity_of(base, "2.0"))
    except _lib.CVSSError as e:
        raise CVSSError(f"invalid CVSS vector {text[:120]!r}: {e}") from e


def score(vector: str) -> tuple[float, str]:
    """``(base score, qualitative severity)`` of a CVSS vector."""
    parsed = parse(vector)
    return parsed.base_score, parsed.severity
