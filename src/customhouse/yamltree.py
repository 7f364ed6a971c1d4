"""Trees loaded from untrusted YAML: a guard against alias bombs.

A safe loader builds an alias (``*a``) as a second reference to the anchored node, not
a copy, so loading stays in proportion to the file. But anything that then walks the
tree walks a shared list or mapping once per reference: nine nested aliases of ten
items each make a 600-byte file a billion strings, and a 1.4 MB lockfile whose
100,000 entries all alias one 5,000-item mapping is half a billion. JSON has no
aliases, and neither OSV records nor lockfiles need them; a tree with one is refused.
"""

from __future__ import annotations

from typing import Any


def reaches_a_container_twice(tree: Any) -> bool:
    """Whether some list or mapping of ``tree`` is reached along two paths (an alias).

    Each list and mapping is visited once, so this takes time in proportion to the
    file the tree was loaded from. Strings and numbers may be shared: they multiply
    nothing. (Mapping keys are never lists or mappings: a safe loader refuses those.)
    """
    seen: set[int] = set()
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            items: Any = node.values()
        elif isinstance(node, list):
            items = node
        else:
            continue
        if id(node) in seen:
            return True
        seen.add(id(node))
        todo.extend(i for i in items if isinstance(i, (dict, list)))
    return False
