"""Generated version pairs, one generator per scheme.

Hypothesis draws a seed and these generators expand a ``random.Random`` of it
into many pairs at once, so a differential test calls its reference
tool once for thousands of pairs (one Hypothesis example per pair would take
minutes). Versions are built from the pieces each ecosystem uses (numbers with
and without leading zeros, qualifiers, separators, ``~``/``^``), and pairs are
mostly near-misses: the second version is the first with one piece changed,
added or removed, which is where comparison rules differ.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Gen = Callable[[random.Random], list[str]]

NUMBERS = ["0", "1", "2", "9", "10", "01", "00", "007", "123", "20240101", "4294967296"]


def _pick(rng: random.Random, *choices: list[str]) -> str:
    return rng.choice(rng.choice(choices))


def _pair(rng: random.Random, pieces: Gen, join: Callable[[list[str]], str]) -> tuple[str, str]:
    a = pieces(rng)
    how = rng.choice(["independent", "same", "edit", "edit", "edit", "append", "drop"])
    if how == "independent":
        b = pieces(rng)
    elif how == "same" or len(a) < 2:
        b = list(a)
    else:
        other = pieces(rng)
        i = rng.randrange(1, len(a))
        b = list(a)
        if how == "edit":
            b[i] = other[min(i, len(other) - 1)]
        elif how == "append":
            b = a + other[1:3]
        else:
            del b[i]
    if rng.random() < 0.5:
        a, b = b, a
    return join(a), join(b)


# --- dpkg --------------------------------------------------------------------

_DPKG_ALNUM = ["a", "b", "z", "A", "Z", "rc", "beta", "dfsg", "git", "ubuntu", "deb"]
_DPKG_SEPS = [".", ".", "+", "~", "~~", "-"]
_DPKG_REV = ["a", "b", "+", ".", "~", "deb12u1", "ubuntu", *NUMBERS]


def _dpkg(rng: random.Random) -> list[str]:
    epoch = rng.choice(["", "", "", "0:", "1:", "2:", "10:", "01:"])
    pieces = [epoch + rng.choice(NUMBERS)]
    for _ in range(rng.randint(0, 6)):
        pieces.append(_pick(rng, NUMBERS, _DPKG_ALNUM, _DPKG_SEPS))
    if rng.random() < 0.5:
        pieces.append("-" + "".join(rng.choice(_DPKG_REV) for _ in range(rng.randint(1, 4))))
    return pieces


def _dpkg_join(pieces: list[str]) -> str:
    text = "".join(pieces)
    return text + "1" if text.endswith("-") else text  # an empty revision is invalid


# --- rpm ---------------------------------------------------------------------

_RPM_ALPHA = ["a", "b", "z", "A", "Z", "rc", "beta", "el", "fc", "git", "p", "xyz"]
_RPM_OTHER = [".", ".", "_", "+", "~", "~", "^", "^", "-", "%", "é"]


def _rpm(rng: random.Random) -> list[str]:
    epoch = rng.choice(["", "", "", "0:", "1:", "2:", "01:", ":"])
    pieces = [epoch + _pick(rng, NUMBERS, _RPM_ALPHA, _RPM_OTHER)]
    for _ in range(rng.randint(0, 7)):
        pieces.append(_pick(rng, NUMBERS, _RPM_ALPHA, _RPM_OTHER))
    return pieces


# --- Maven -------------------------------------------------------------------

_MAVEN_WORDS = [
    "alpha", "a", "beta", "b", "milestone", "m", "rc", "cr", "RC", "snapshot", "SNAPSHOT",
    "ga", "GA", "final", "release", "sp", "foo", "x", "abc", "pom", "jre", "android",
]  # fmt: skip
_MAVEN_SEPS = [".", ".", "-", "-", ""]
_MAVEN_NUMS = [*NUMBERS, "2147483648", "9223372036854775808", "99999999999999999999"]


def _maven(rng: random.Random) -> list[str]:
    pieces = [_pick(rng, _MAVEN_NUMS, _MAVEN_WORDS)]
    for _ in range(rng.randint(0, 6)):
        pieces.append(rng.choice(_MAVEN_SEPS) + _pick(rng, _MAVEN_NUMS, _MAVEN_WORDS))
    return pieces


# --- semver (npm) ------------------------------------------------------------

_SEMVER_NUMS = ["0", "1", "2", "10", "999", "01"]
_SEMVER_PRE = [
    "alpha",
    "beta",
    "rc",
    "0",
    "1",
    "2",
    "10",
    "11",
    "x-y",
    "-",
    "a1",
    "1a",
    "--",
    "Alpha",
    "01",
]
_SEMVER_BUILD = ["build", "1", "001", "sha", "x-y"]


def _semver(rng: random.Random) -> list[str]:
    prefix = rng.choice(["", "", "", "v", " "])
    pieces = [
        prefix + rng.choice(_SEMVER_NUMS),
        "." + rng.choice(_SEMVER_NUMS),
        "." + rng.choice(_SEMVER_NUMS),
    ]
    pre = [rng.choice(_SEMVER_PRE) for _ in range(rng.randint(0, 4))]
    if pre:
        pieces.append("-" + pre[0])
        pieces.extend("." + p for p in pre[1:])
    if rng.random() < 0.3:
        pieces.append("+" + ".".join(rng.choice(_SEMVER_BUILD) for _ in range(rng.randint(1, 2))))
    return pieces


# --- PEP 440 -----------------------------------------------------------------

_PEP440_PIECES = [
    ".0", ".1", ".2", ".10", "a1", "b2", "rc1", "c1", "alpha1", "beta", "pre2", "preview",
    ".post1", "-1", ".dev0", ".dev", "post", "+local", "+abc.5", "+5", "-a1", "_rc2", ".RC1",
]  # fmt: skip


def _pep440(rng: random.Random) -> list[str]:
    pieces = [rng.choice(["", "", "", "1!", "v"]) + rng.choice(["0", "1", "2", "10", "01"])]
    for _ in range(rng.randint(0, 5)):
        pieces.append(rng.choice(_PEP440_PIECES))
    return pieces


# --- apk, gem, go (no reference tool here: used for property tests) ---------

_APK_PIECES = [".0", ".1", ".2", ".10", ".05", ".00", "a", "z", "_alpha", "_beta1", "_pre", "_rc2", "_p", "_p3", "_git", "_cvs", "-r0", "-r1", "-r10"]  # fmt: skip
_GEM_PIECES = [".0", ".1", ".2", ".10", ".a", ".b", ".rc", ".pre", "a", "b1", ".0.a", "-rc1", "-beta.2", ".A"]  # fmt: skip
_GO_PRE = ["", "-alpha", "-rc.1", "-0.20191109021931-daa7c04131f5", "-20191109021931-daa7c04131f5", "-pre.0.20200101000000-abcdefabcdef"]  # fmt: skip


def _apk(rng: random.Random) -> list[str]:
    return [rng.choice(["0", "1", "2", "10", "01"])] + [
        rng.choice(_APK_PIECES) for _ in range(rng.randint(0, 5))
    ]


def _gem(rng: random.Random) -> list[str]:
    return [rng.choice(["0", "1", "2", "10", "01"])] + [
        rng.choice(_GEM_PIECES) for _ in range(rng.randint(0, 5))
    ]


def _go(rng: random.Random) -> list[str]:
    return [
        "v" + rng.choice(["0", "1", "2", "10"]),
        "." + rng.choice(["0", "1", "19", "2"]),
        "." + rng.choice(["0", "1", "3"]),
        rng.choice(_GO_PRE),
        rng.choice(["", "", "+incompatible", "+meta"]),
    ]


_GENERATORS: dict[str, tuple[Gen, Callable[[list[str]], str]]] = {
    "dpkg": (_dpkg, _dpkg_join),
    "rpm": (_rpm, "".join),
    "maven": (_maven, "".join),
    "semver": (_semver, "".join),
    "pep440": (_pep440, "".join),
    "apk": (_apk, "".join),
    "gem": (_gem, "".join),
    "go": (_go, "".join),
}


def pairs(scheme: str, rng: random.Random, n: int) -> list[tuple[str, str]]:
    """``n`` generated version pairs for ``scheme``, drawn from ``rng``."""
    pieces, join = _GENERATORS[scheme]
    return [_pair(rng, pieces, join) for _ in range(n)]
