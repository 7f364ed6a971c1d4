"""Typed decoding of OSV JSON for bulk imports: record to table rows in one pass.

The general path (``osv.parse_vulnerability`` then ``store.record_rows``) decodes a
record into dicts and lists, walks them to validate, and walks them again to make rows:
24 us for a typical 2 KB record here. msgspec decodes the JSON straight into the typed
structures below, checking every type on the way, in 8 us; the rows are made from them
in the same pass.

This path only ever accepts a subset of what the general path accepts, and gives
exactly the rows the general path gives (a differential test holds it to that). A
record it refuses, for any reason, is handed to the general path, which either accepts
it (a record with ``"versions": null``, say, which OSV allows and these types do not)
or names the problem. So error messages are the general path's, and a record decodes
the same whichever path took it.

msgspec is imported only by writers (it costs ~50 ms to import): a scan never loads it.
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# msgspec reads the field types of its structures at class creation.
from itertools import chain
from typing import Any, Literal

import msgspec

from customhouse.advisories.osv import _ID, normalize_name
from customhouse.advisories.store import (
    AffectedRow,
    RecordRows,
    entry_json,
    list_keys,
    stored_json,
)

_MAX_ID_LENGTH = 200  # as osv.parse_vulnerability


_EMPTY = msgspec.Raw(b"[]")
_Kind = Literal["introduced", "fixed", "last_affected", "limit"]  # as osv._EVENT_KINDS


# gc=False: instances hold no reference cycles, and the collector need not track them
class _Package(msgspec.Struct, gc=False):
    ecosystem: str
    name: str
    purl: str | None = None


class _Range(msgspec.Struct, gc=False):
    type: str
    events: list[dict[_Kind, str]]  # each of exactly one key (checked below)
    repo: str | None = None


class _Severity(msgspec.Struct, gc=False):
    type: str
    score: str


class _Affected(msgspec.Struct, gc=False):
    package: _Package | None = None
    ranges: list[_Range] = []
    # the list's JSON, undecoded: see _listed
    versions: msgspec.Raw = _EMPTY
    ecosystem_specific: dict[str, Any] | None = None
    database_specific: dict[str, Any] | None = None
    severity: list[_Severity] = []


class _Record(msgspec.Struct, gc=False):
    id: str
    modified: str
    published: str | None = None
    withdrawn: str | None = None
    aliases: list[str] = []
    related: list[Any] | None = None  # (the general path ignores odd items, not odd lists)
    summary: str | None = None
    details: str | None = None
    severity: list[_Severity] = []
    database_specific: dict[str, Any] | None = None
    affected: list[_Affected] = []


_decode = msgspec.json.Decoder(_Record).decode
_decode_versions = msgspec.json.Decoder(list[str]).decode
_chain = chain.from_iterable

_ONE = {1}
_NAMES: dict[tuple[str, str], str] = {}  # (ecosystem, name) -> normalized: names repeat
_NAMES_MAX = 1 << 16
_NONE: tuple[None, None] = (None, None)
# An ecosystem's version lists, by their JSON: -> (vkeys, versions without a key). Feeds
# list the same releases again and again (the records of one package); a list seen
# before is neither decoded nor keyed again.
_LISTS: dict[tuple[str, bytes], tuple[str | None, list[str] | None]] = {}
_LISTS_MAX_BYTES = 32 << 20
_lists_bytes = 0


def _strings(versions: msgspec.Raw) -> bool:
    try:
        _decode_versions(versions)
    except msgspec.MsgspecError:
        return False
    return True


def _listed(ecosystem: str, versions: msgspec.Raw) -> tuple[str | None, list[str] | None] | None:
    """(vkeys, versions without a key) of an entry's ``versions`` JSON, as
    ``store.record_rows`` makes them; None when it is not a list of strings."""
    global _lists_bytes
    if versions == _EMPTY:
        return _NONE
    text = bytes(versions)
    known = _LISTS.get((ecosystem, text))
    if known is None:
        try:
            items = _decode_versions(text)
        except msgspec.MsgspecError:
            return None
        known = list_keys(ecosystem, items) if items else _NONE
        if _lists_bytes > _LISTS_MAX_BYTES:
            _LISTS.clear()
            _lists_bytes = 0
        _LISTS[ecosystem, text] = known
        _lists_bytes += len(text)
    return known  # (shared: the rest list is only ever read)


def typed_rows(data: bytes, source: str, stream: bytes | None = None) -> RecordRows | None:
    """The rows of the one OSV record that ``data`` (JSON) holds, or None to leave it to
    the general path (which names what is wrong, if anything is).

    ``stream``: the DEFLATE stream ``data`` was inflated from (a zip entry's), stored as
    the record instead of its JSON made compact (see ``store.record_text``)."""
    try:
        v = _decode(data)
    except msgspec.MsgspecError:  # (also not JSON, not UTF-8, or a list of records)
        return None
    vid = v.id
    if len(vid) > _MAX_ID_LENGTH or not _ID.match(vid):
        return None
    text: str | bytes | None = stream
    if text is None:
        text = stored_json(str(data, "utf-8"))
        if text is None:  # pragma: no cover - msgspec parsed what its formatter refuses
            return None
    live = v.withdrawn is None
    aff_rows: list[AffectedRow] = []
    for a in v.affected:
        ranges = []
        for r in a.ranges:
            events = r.events
            if events and set(map(len, events)) != _ONE:  # (the kinds are checked by type)
                return None
            if r.type != "GIT":
                ranges.append([r.type, list(_chain(map(dict.items, events))), r.repo])
        pkg = a.package
        if pkg is None or not pkg.ecosystem or not pkg.name:  # filed under no package
            if a.versions != _EMPTY and not _strings(a.versions):  # (but checked all the same)
                return None
            continue
        eco, name = pkg.ecosystem, pkg.name
        listed = _listed(eco, a.versions)
        if listed is None:
            return None
        vkeys, rest = listed
        entry = entry_json(
            eco,
            name,
            pkg.purl,
            ranges,
            rest,
            a.ecosystem_specific,
            a.database_specific,
            [[s.type, s.score] for s in a.severity],
        )
        key = _NAMES.get((eco, name))
        if key is None:
            if len(_NAMES) >= _NAMES_MAX:
                _NAMES.clear()
            key = _NAMES[eco, name] = normalize_name(eco, name)
        aff_rows.append((eco, key, vid, live, entry, vkeys))
    return (
        (vid, source, v.modified, v.withdrawn, text),
        aff_rows,
        [(alias, vid) for alias in v.aliases],
    )
