"""The alias-bomb guard on trees loaded from untrusted YAML."""

from __future__ import annotations

import pytest
import yaml

from customhouse.yamltree import reaches_a_container_twice

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@pytest.mark.parametrize(
    ("text", "shared"),
    [
        ("a: 1\nb: [1, 2, {c: [3]}]\n", False),
        ("a: &s text\nb: *s\nc: [*s, *s]\n", False),  # shared strings multiply nothing
        ("a: &n 5\nb: [*n, *n]\n", False),
        ("a: [[1], [1], [1]]\n", False),  # equal, not shared
        ("a: &l [1]\nb: *l\n", True),
        ("a: &m {x: 1}\nb: [*m]\n", True),
        ("a: &e []\nb: *e\n", True),  # even an empty one: no record needs it
        ("a: &r [1, *r]\n", True),  # a list that holds itself
        ("- &m {k: v}\n- {deep: {deeper: [*m]}}\n", True),
        ("plain", False),
        ("", False),
    ],
)
def test_a_list_or_mapping_reached_twice_is_found(text: str, shared: bool) -> None:
    assert reaches_a_container_twice(yaml.load(text, Loader=LOADER)) is shared


def test_a_billion_strings_in_600_bytes_are_found() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = "\n".join(lines)
    assert len(text) < 600
    assert reaches_a_container_twice(yaml.load(text, Loader=LOADER))
