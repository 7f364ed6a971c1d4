"""Reads the public test vectors stored under tests/data/versions.

Line forms (``#`` starts a comment):

- ``A OP B`` with OP one of ``< = >``;
- ``A B RESULT`` with RESULT one of ``-1 0 1``;
- ``A B``: A sorts after B (node-semver's comparisons fixture);
- ``ORDER v1 v2 ...``: strictly ascending, expanded to every pair;
- ``INVALID text``: rejected (``\\n`` stands for a newline).
"""

from __future__ import annotations

from pathlib import Path

Case = tuple[str, str, int]


def load(path: Path) -> tuple[list[Case], list[str]]:
    cases: list[Case] = []
    invalid: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("INVALID "):
            invalid.append(line[len("INVALID ") :].replace("\\n", "\n"))
            continue
        words = line.split()
        if words[0] == "ORDER":
            seq = words[1:]
            cases += [(seq[i], seq[j], -1) for i in range(len(seq)) for j in range(i + 1, len(seq))]
        elif len(words) == 3 and words[1] in ("<", "=", ">"):
            cases.append((words[0], words[2], "<=>".index(words[1]) - 1))
        elif len(words) == 3:
            cases.append((words[0], words[1], int(words[2])))
        elif len(words) == 2:
            cases.append((words[0], words[1], 1))
        else:
            raise ValueError(f"{path.name}: cannot read {raw!r}")
    return cases, invalid
