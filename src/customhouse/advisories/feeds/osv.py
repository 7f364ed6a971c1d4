"""OSV records from files: JSON or YAML records, directories of them, and zips (osv.dev's ``all.zip``)."""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from customhouse.advisories.osv import AdvisoryError, Vulnerability, parse_vulnerability

MAX_RECORD_BYTES = 16 * 1024 * 1024
MAX_ZIP_ENTRIES = 2_000_000
MAX_ZIP_RATIO = 200


@dataclass
class ImportReport:
    """What an import read: files, records, and the problems it skipped (never silently)."""

    files: int = 0
    records: int = 0
    skipped: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)


def load_text(data: bytes, name: str) -> Any:
    if name.endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.load(data, Loader=_yaml_loader())
        except yaml.YAMLError as e:
            raise AdvisoryError(f"{name}: invalid YAML: {e}") from None
    try:
        return _json_loads(data)
    except (ValueError, RecursionError) as e:
        raise AdvisoryError(f"{name}: invalid JSON: {e}") from None


def _json_loads(data: bytes) -> Any:
    try:
        import orjson
    except ImportError:  # pragma: no cover
        return json.loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # the stdlib's message names the problem better


_LOADER: Any = None


def _yaml_loader() -> Any:
    """A safe YAML loader that keeps timestamps as the strings OSV requires."""
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[valid-type,misc]
            pass

        Loader.yaml_implicit_resolvers = {
            ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for ch, resolvers in base.yaml_implicit_resolvers.items()
        }
        _LOADER = Loader
    return _LOADER


def records_from_object(obj: Any, name: str, text: bytes | None = None) -> list[Vulnerability]:
    """OSV records from a parsed file; ``text``, the file's JSON, is kept for a single record."""
    if isinstance(obj, list):
        return [parse_vulnerability(o, f"{name}[{i}]") for i, o in enumerate(obj)]
    kept = text.decode("utf-8", "replace") if text is not None else None
    return [parse_vulnerability(obj, name, text=kept)]


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise AdvisoryError(f"{path}: not a readable zip: {e}") from None


def zip_members(zf: zipfile.ZipFile, path: Path, report: ImportReport) -> list[zipfile.ZipInfo]:
    """The record files of a zip; entries that would inflate suspiciously are reported and left out."""
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise AdvisoryError(f"{path}: {len(infos)} entries is more than {MAX_ZIP_ENTRIES}")
    out = []
    for info in infos:
        if info.is_dir() or not info.filename.endswith((".json", ".yaml", ".yml")):
            continue
        if (
            info.file_size > MAX_RECORD_BYTES
            or info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1) + 65536
        ):
            report.skipped.append(f"{path}!{info.filename}: {info.file_size} bytes (zip bomb?)")
            continue
        out.append(info)
    return out


def zip_records(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> list[Vulnerability]:
    """The records of one zip entry; AdvisoryError for a bad record, and for a corrupt zip."""
    name = f"{path}!{info.filename}"
    try:
        with zf.open(info) as f:
            data = f.read(MAX_RECORD_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
        raise CorruptZipError(f"{name}: corrupt zip entry: {e}") from None
    text = data if info.filename.endswith(".json") else None
    return records_from_object(load_text(data, info.filename), name, text)


class CorruptZipError(AdvisoryError):
    """A zip entry cannot be read: the whole zip is refused, not just the entry."""


def iter_zip(path: Path, report: ImportReport) -> Iterator[Vulnerability]:
    with open_zip(path) as zf:
        for info in zip_members(zf, path, report):
            try:
                yield from zip_records(zf, info, path)
            except CorruptZipError:
                raise
            except AdvisoryError as e:
                report.skipped.append(str(e))
            report.files += 1
