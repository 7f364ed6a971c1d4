"""Which advisory ecosystem an OS release maps to, and whether the release is still supported."""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
import datetime as dt
from typing import NamedTuple

from customhouse.catalog.interface import Distro

DEBIAN_MAJOR = {
    "buzz": "1.1",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
}

# end of (regular or LTS) security support, from the distributions' own release pages
EOL = {
    ("debian", "7"): dt.date(2018, 5, 31),
    ("debian", "8"): dt.date(2020, 6, 30),
    ("debian", "9"): dt.date(2022, 6, 30),
    ("debian", "10"): dt.date(2024, 6, 30),
    ("debian", "11"): dt.date(2026, 8, 31),
    ("debian", "12"): dt.date(2028, 6, 30),
    ("alpine", "3.14"): dt.date(2023, 5, 1),
    ("alpine", "3.15"): dt.date(2023, 11, 1),
    ("alpine", "3.16"): dt.date(2024, 5, 23),
    ("alpine", "3.17"): dt.date(2024, 11, 22),
    ("alpine", "3.18"): dt.date(2025, 5, 9),
    ("alpine", "3.19"): dt.date(2025, 11, 1),
    ("alpine", "3.20"): dt.date(2026, 4, 1),
    ("alpine", "3.21"): dt.date(2026, 11, 1),
    ("alpine", "3.22"): dt.date(2027, 5, 1),
}


class Release(NamedTuple):  # a NamedTuple, not a dataclass: cheaper to define at start-up
    distro: Distro
    ecosystem: str | None  # OSV ecosystem of its advisories, e.g. "Debian:12", "Alpine:v3.19"
    release: str | None  # "12", "3.19"
    eol: dt.date | None

    def end_of_life(self, today: dt.date | None = None) -> bool:
        return self.eol is not None and (today or dt.date.today()) > self.eol

    @property
    def label(self) -> str:
        d = self.distro
        return f"{d.id} {d.version_id or d.codename or '?'}"


def release_of(distro: Distro) -> Release:
    d = distro
    if d.id == "debian":
        major = (d.version_id or "").split(".")[0] or DEBIAN_MAJOR.get(d.codename or "", "")
        if not major and d.codename in ("sid", "trixie/sid"):
            return Release(d, "Debian:unstable", "unstable", None)
        return Release(
            d, f"Debian:{major}" if major else None, major or None, EOL.get(("debian", major))
        )
    if d.id == "alpine" and d.version_id:
        parts = d.version_id.split(".")
        branch = ".".join(parts[:2]) if len(parts) >= 2 else None
        if d.version_id.endswith("_alpha") or "edge" in d.version_id:
            return Release(d, "Alpine:edge", "edge", None)
        return Release(
            d, f"Alpine:v{branch}" if branch else None, branch, EOL.get(("alpine", branch or ""))
        )
    if d.id == "ubuntu" and d.version_id:
        return Release(d, f"Ubuntu:{d.version_id}", d.version_id, None)
    return Release(d, None, d.version_id, None)
