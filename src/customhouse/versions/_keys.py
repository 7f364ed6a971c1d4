"""Sort keys for sequences compared as if padded with an endless neutral element.

dpkg compares version strings as if the shorter one went on with "order 0"
forever; RubyGems pads segment lists with the number 0. Python compares a
shorter tuple as smaller, which is wrong when the longer one goes on with an
element that sorts *below* the padding (``~`` in dpkg, a prerelease string in
RubyGems) or goes on with padding-equal elements first.

:func:`padded_key` encodes a sequence so that plain tuple comparison gives the
padded order: every element that differs from the padding becomes one entry
that carries how many padding-equal elements precede it, and the sequence ends
with a terminator that sorts between "below the padding" and "above it".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Entry = tuple[Any, ...]
_END: Entry = (0,)


def padded_key(
    items: Iterable[Any], above_padding: Callable[[Any], bool | None]
) -> tuple[Entry, ...]:
    """Encode ``items`` compared with endless padding.

    ``above_padding(x)`` is True when x sorts above the padding element, False
    when below, and None when x equals it. Elements on the same side of the
    padding must be comparable with each other.
    """
    out: list[Entry] = []
    run = 0
    for item in items:
        side = above_padding(item)
        if side is None:
            run += 1
        elif side:
            # more padding first means a later rise: smaller
            out.append((1, -run, item))
            run = 0
        else:
            # more padding first means a later fall: larger
            out.append((-1, run, item))
            run = 0
    out.append(_END)
    return tuple(out)
