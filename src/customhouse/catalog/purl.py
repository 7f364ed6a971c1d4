"""Package URLs in canonical form (https://github.com/package-url/purl-spec).

One builder for every cataloger. The canonical string is::

    pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH

- ``type`` is lowercased and must be ASCII letters, digits, ``.`` and ``-``, starting
  with a letter; it is never percent-encoded.
- ``namespace`` and ``subpath`` are split on ``/``; empty segments (and ``.``/``..``
  in a subpath) are dropped; each segment is percent-encoded.
- ``name`` and ``version`` are percent-encoded as a whole (a ``/`` inside is encoded).
- qualifier keys are lowercased, must be ``[a-z][a-z0-9._-]*``, empty values are
  dropped, pairs are sorted by key; values are percent-encoded but keep ``/``.

Percent-encoding keeps only ASCII letters, digits, ``.-_~`` and the colon ``:``, which
the spec says is never encoded; everything else is UTF-8 then ``%XX`` (upper-case hex),
so ``+`` becomes ``%2B``, ``@`` ``%40`` and a space ``%20``.

Type rules applied here (PURL-TYPES): the namespace and name of ``alpm``, ``apk``,
``bitbucket``, ``composer``, ``deb``, ``github``, ``hex`` and ``npm`` are
case-insensitive and lowercased; ``pypi`` names are lowercased with ``_`` as ``-``;
``rpm`` and ``qpkg`` namespaces are lowercased; ``oci`` and ``bitnami`` names are
lowercased. ``golang`` paths keep their case: Go module paths are case-sensitive
(``github.com/Azure/...``), and the spec's own validation only warns about them.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from customhouse.errors import InputError

__all__ = ["PurlError", "purl"]


class PurlError(InputError, ValueError):
    """The components cannot form a valid package URL."""


_LOWER_NAMESPACE = frozenset(
    {"alpm", "apk", "bitbucket", "composer", "deb", "github", "hex", "npm", "qpkg", "rpm"}
)
_LOWER_NAME = frozenset(
    {"alpm", "apk", "bitbucket", "bitnami", "composer", "deb", "github", "hex", "npm", "oci"}
)
_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")


def _encode(text: str, safe: str = ":") -> str:
    # quote() never encodes ASCII letters, digits and "_.-~"; ":" (and "/" where asked) is
    # kept too; everything else is UTF-8 percent-encoded with upper-case hex digits.
    try:
        return quote(text, safe=safe, encoding="utf-8", errors="strict")
    except UnicodeEncodeError as e:
        raise PurlError(f"{text!r} is not valid Unicode text") from e


def _segments(text: str, *, subpath: bool = False) -> list[str]:
    out = []
    for seg in text.split("/"):
        if not seg or (subpath and seg in (".", "..")):
            continue
        out.append(seg)
    return out


def _check_type(type_: str) -> str:
    t = type_.lower()
    if not t or not ("a" <= t[0] <= "z") or not set(t) <= _TYPE_CHARS:
        raise PurlError(f"invalid purl type {type_!r}")
    return t


def purl(
    type: str,  # the purl spec's own name for the component
    name: str,
    version: str,
    namespace: str | None = None,
    qualifiers: Mapping[str, str] | None = None,
    subpath: str | None = None,
) -> str:
    """The canonical package URL of these components; raise :class:`PurlError` if invalid.

    An empty ``version`` (or namespace, subpath, qualifier value) is left out.
    """
    t = _check_type(type)
    ns = namespace or ""
    nm = name.strip("/")
    if t in _LOWER_NAMESPACE:
        ns = ns.lower()
    if t in _LOWER_NAME:
        nm = nm.lower()
    if t == "pypi":
        nm = nm.lower().replace("_", "-")
    if not nm:
        raise PurlError(f"a {t} package URL needs a name")
    out = ["pkg:", t, "/"]
    ns_segments = _segments(ns)
    if ns_segments:
        out.append("/".join(_encode(s) for s in ns_segments))
        out.append("/")
    out.append(_encode(nm))
    if version:
        out.append("@")
        out.append(_encode(version))
    if qualifiers:
        pairs: dict[str, str] = {}
        for key, value in qualifiers.items():
            k = key.lower()
            if not k or not ("a" <= k[0] <= "z") or not set(k) <= _KEY_CHARS:
                raise PurlError(f"invalid purl qualifier key {key!r}")
            if k in pairs:
                raise PurlError(f"duplicate purl qualifier key {key!r}")
            if value:
                pairs[k] = value
        if pairs:
            out.append("?")
            out.append("&".join(f"{k}={_encode(pairs[k], safe=':/')}" for k in sorted(pairs)))
    if subpath:
        sub = _segments(subpath, subpath=True)
        if sub:
            out.append("#")
            out.append("/".join(_encode(s) for s in sub))
    return "".join(out)
