"""YAML from untrusted input, loaded without aliases.

A safe loader builds an alias (``*a``) as a second reference to the anchored node, so
loading stays in proportion to the file; but anything that then walks the tree walks
a shared list or mapping once per reference (nine nested aliases of ten items each
make a 600-byte file a billion strings), and a merge key (``<<: *a``) makes the loader
itself copy the anchored mapping into each mapping that names it (6,000 of them over
one of 6,000 keys: 190 KB that took 1.5 GB). JSON has no aliases, and neither OSV
records nor lockfiles need them: a document with one is refused before anything is
built from it.
"""

from __future__ import annotations

from typing import Any


class YamlAliasError(ValueError):
    """The document holds an alias (``*name``), a merge key's included."""


def load_without_aliases(text: str | bytes, loader: Any) -> Any:
    """``yaml.load(text, Loader=loader)`` (a safe loader), refusing any alias.

    An alias needs a ``*``: a document without one is loaded straight away; one with
    one (in a quoted string, say) has its events read first, which refuses an alias
    before any node is composed. Raises ``yaml.YAMLError`` as ``yaml.load`` does."""
    import yaml

    if "*" in text if isinstance(text, str) else b"*" in text:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
                raise YamlAliasError(
                    f"a YAML alias *{event.anchor}{where} (an alias bomb?): not accepted"
                )
    return yaml.load(text, Loader=loader)
