"""npm packages: installed ``node_modules`` trees, and lockfiles where nothing is installed.

Installed packages
    Only a ``package.json`` directly inside ``node_modules/NAME/`` or
    ``node_modules/@SCOPE/NAME/`` is a package: nested ones (``lodash/fp/package.json``,
    ``resolve/test/resolver/baz/package.json``) are parts of a package or test
    fixtures. An application's own ``package.json`` outside ``node_modules`` is not
    reported: it is not an installed dependency, and its (often unregistered or
    private) name would be matched against the public registry's advisories.
    pnpm's ``node_modules/.pnpm/NAME@VER/node_modules/NAME/package.json`` is the real
    file; its ``node_modules/NAME`` is a symlink, which the walk does not hand us.

Lockfiles
    ``package-lock.json`` / ``npm-shrinkwrap.json`` (lockfileVersion 1, 2, 3),
    ``yarn.lock`` (classic v1 and berry v2+), ``pnpm-lock.yaml`` (v5.x, v6, v9).
    Lockfiles inside ``node_modules`` (shipped by a published package) are ignored, as is
    npm's hidden ``node_modules/.package-lock.json``. Development dependencies are left
    out where the lockfile marks them (npm, pnpm); yarn.lock does not say, so all of its
    entries are kept. Workspace and ``link:``/``file:`` entries are local code, not
    registry packages, and are left out. Each package carries
    ``extra={"from_lockfile": "true", "lockfile_dir": DIR}``: a lockfile only says what
    *would* be installed, so :func:`dedupe_lockfile_packages` drops them where packages
    are installed under ``DIR/node_modules``.

Limits: :attr:`NpmCataloger.max_bytes` (64 MiB) bounds what is read at all; a
``package.json`` larger than 8 MiB is not parsed (a warning names it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from customhouse.catalog.interface import NPM, FileResult, Package, Wants
from customhouse.yamltree import YamlAliasError, load_without_aliases

__all__ = ["NpmCataloger", "dedupe_lockfile_packages"]

_MiB = 1024 * 1024
PACKAGE_JSON_MAX = 8 * _MiB
_LOCKFILES = frozenset({"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"})
_SUFFIXES = ("package.json", *_LOCKFILES)
_LOCAL_PREFIXES = ("file:", "link:", "workspace:", "portal:")


@dataclass(frozen=True, slots=True)
class _Found:
    name: str
    version: str
    licenses: tuple[str, ...] = ()


def _split_name(name: str) -> tuple[str | None, str]:
    """``@scope/name`` -> (``@scope``, ``name``); ``name`` -> (None, ``name``)."""
    if name.startswith("@") and "/" in name:
        scope, _, rest = name.partition("/")
        return scope, rest
    return None, name


def _valid_name(name: str) -> bool:
    if not name or len(name) > 214 or name != name.strip():
        return False
    scope, rest = _split_name(name)
    return bool(rest) and "/" not in rest and (scope is None or len(scope) > 1)


def _licenses(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """``license`` as a string or ``{"type": ...}``; the legacy ``licenses`` array."""
    out: dict[str, None] = {}  # (ordered, and a hostile list's repeats cost O(1) each)

    def add(value: Any) -> None:
        if isinstance(value, Mapping):
            value = value.get("type")
        if isinstance(value, str) and value.strip():
            out[value.strip()] = None

    lic = doc.get("license")
    if isinstance(lic, list):
        for item in lic:
            add(item)
    else:
        add(lic)
    legacy = doc.get("licenses")
    if isinstance(legacy, list):
        for item in legacy:
            add(item)
    elif legacy is not None:
        add(legacy)
    return tuple(out)


def _installed_dir(path: str) -> str | None:
    """``node_modules/NAME`` or ``node_modules/@SCOPE/NAME`` holding this package.json."""
    parts = path.rsplit("/", 4)
    if len(parts) >= 3 and parts[-3] == "node_modules":
        return None if parts[-2].startswith("@") else parts[-2]  # a scope is no package
    if len(parts) >= 4 and parts[-4] == "node_modules" and parts[-3].startswith("@"):
        return f"{parts[-3]}/{parts[-2]}"
    return None


def _dirname(path: str) -> str:
    return path.rpartition("/")[0]


class NpmCataloger:
    name = "npm"
    version = 2  # 2: YAML lockfiles with aliases refused
    max_bytes = 64 * _MiB
    wants = Wants(names=frozenset(_SUFFIXES))

    def match(self, path: str, mode: int, size: int) -> bool:
        if not path.endswith(_SUFFIXES):  # one C call for the common "no" answer
            return False
        base = path.rpartition("/")[2]
        if base == "package.json":
            return "node_modules/" in path and _installed_dir(path) is not None
        if base in _LOCKFILES:
            return "node_modules/" not in path
        return False

    def parse(self, path: str, data: bytes) -> FileResult:
        base = path.rpartition("/")[2]
        if base == "package.json":
            return _parse_package_json(path, data)
        warnings: list[str] = []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            text = data.decode("utf-8", "replace")
            warnings.append(f"{path}: invalid UTF-8 at byte {e.start}; decoded with replacement")
        text = text.lstrip("\ufeff")
        try:
            if base == "yarn.lock":
                found = list(_yarn_lock(text))
            elif base == "pnpm-lock.yaml":
                found = list(_pnpm_lock(text))
            else:
                found = list(_package_lock(text))
        except _LockError as e:
            warnings.append(f"{path}: {e}")
            return FileResult(warnings=warnings)
        lockfile_dir = _dirname(path)
        packages: list[Package] = []
        seen: set[tuple[str, str]] = set()
        for f in found:
            if (f.name, f.version) in seen:
                continue
            seen.add((f.name, f.version))
            pkg = _package(
                path,
                f,
                {"from_lockfile": "true", "lockfile_dir": lockfile_dir},
                warnings,
            )
            if pkg is not None:
                packages.append(pkg)
        return FileResult(packages=packages, warnings=warnings)


def _package(path: str, f: _Found, extra: dict[str, str], warnings: list[str]) -> Package | None:
    from customhouse.catalog.purl import PurlError, purl

    if not _valid_name(f.name):
        warnings.append(f"{path}: {f.name!r} is not an npm package name; skipped")
        return None
    scope, rest = _split_name(f.name)
    try:
        url = purl(NPM, rest, f.version, namespace=scope)
    except PurlError as e:
        warnings.append(f"{path}: no package URL for {f.name!r} {f.version!r}: {e}")
        return None
    return Package(
        ecosystem=NPM,
        name=f.name,
        version=f.version,
        purl=url,
        path=path,
        licenses=f.licenses,
        extra=extra,
    )


# --------------------------------------------------------------------------- package.json


def _parse_package_json(path: str, data: bytes) -> FileResult:
    if len(data) > PACKAGE_JSON_MAX:
        return FileResult(
            warnings=[
                f"{path}: {len(data)} bytes is more than the {PACKAGE_JSON_MAX} a package.json may have; skipped"
            ]
        )
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        return FileResult(warnings=[f"{path}: not valid JSON: {e}"])
    if not isinstance(doc, dict):
        return FileResult(warnings=[f"{path}: not a JSON object"])
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return FileResult(warnings=[f"{path}: no name or version; skipped"])
    warnings: list[str] = []
    extra: dict[str, str] = {}
    installed_as = _installed_dir(path)
    if installed_as is not None and installed_as != name:
        extra["installed_as"] = installed_as  # an alias: npm install foo@npm:bar
    if doc.get("private") is True:
        extra["private"] = "true"
    pkg = _package(path, _Found(name, version.strip(), _licenses(doc)), extra, warnings)
    return FileResult(packages=[pkg] if pkg else [], warnings=warnings)


# --------------------------------------------------------------------------- lockfiles


class _LockError(Exception):
    """A lockfile that cannot be read at all (reported as a warning)."""


def _is_local(version: str) -> bool:
    return version.startswith(_LOCAL_PREFIXES)


def _package_lock(text: str) -> Iterator[_Found]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise _LockError(f"not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise _LockError("not a JSON object")
    packages = doc.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        for key, entry in packages.items():
            if not isinstance(key, str) or not isinstance(entry, dict):
                continue
            marker = key.rfind("node_modules/")
            if marker < 0 or entry.get("link") or entry.get("dev") is True:
                continue  # the root, workspace folders, symlinks, dev dependencies
            name = entry.get("name")
            if not isinstance(name, str):
                name = key[marker + len("node_modules/") :]
            version = entry.get("version")
            if isinstance(version, str) and version and not _is_local(version):
                yield _Found(name, version, _licenses(entry))
        return
    deps = doc.get("dependencies")  # lockfileVersion 1: a nested tree
    if not isinstance(deps, dict):
        raise _LockError("neither 'packages' nor 'dependencies' is an object")
    stack: list[dict[str, Any]] = [deps]
    while stack:
        level = stack.pop()
        for name, entry in level.items():
            if not isinstance(entry, dict) or entry.get("dev") is True:
                continue
            version = entry.get("version")
            if isinstance(version, str) and version and not _is_local(version):
                if version.startswith("npm:"):  # alias: "npm:real-name@1.2.3"
                    real, _, version = version[4:].rpartition("@")
                    name = real or name
                yield _Found(name, version)
            nested = entry.get("dependencies")
            if isinstance(nested, dict):
                stack.append(nested)


def _spec_name(spec: str) -> str:
    """The package name of a ``name@range`` specifier (``@scope/name@range`` too)."""
    at = spec.find("@", 1)
    return spec if at < 0 else spec[:at]


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        return s[1:-1]
    return s


def _yarn_lock(text: str) -> Iterator[_Found]:
    if "__metadata:" in text:
        yield from _yarn_berry(text)
        return
    # classic yarn v1: its own format; unindented "spec, spec:" heads, two-space fields
    if "# yarn lockfile v1" not in text:
        raise _LockError("neither a yarn v1 lockfile nor a berry one (no __metadata)")
    name: str | None = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0] not in " \t":
            head = raw.rstrip().rstrip(":")
            first = _unquote(head.split(",")[0])
            name = _spec_name(first)
            rng = first[len(name) + 1 :]
            if rng.startswith("npm:"):  # alias "foo@npm:bar@^1": the package is bar
                name = _spec_name(rng[4:])
            continue
        line = raw.strip()
        if name is not None and raw.startswith("  ") and not raw.startswith("   "):
            key, _, value = line.partition(" ")
            if key == "version":
                version = _unquote(value)
                if version and not _is_local(version):
                    yield _Found(name, version)
                name = None


def _load_yaml(text: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return load_without_aliases(text, loader)  # a safe loader
    except YamlAliasError as e:
        raise _LockError(str(e)) from None
    except (yaml.YAMLError, RecursionError, ValueError) as e:
        raise _LockError(f"not valid YAML: {str(e).splitlines()[0] if str(e) else e}") from e


def _yarn_berry(text: str) -> Iterator[_Found]:
    doc = _load_yaml(text)
    if not isinstance(doc, dict):
        raise _LockError("not a YAML mapping")
    for key, entry in doc.items():
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        resolution = entry.get("resolution")
        version = entry.get("version")
        if not isinstance(resolution, str) or version is None:
            continue
        version = str(version)
        if entry.get("linkType") == "soft" or "@workspace:" in resolution:
            continue
        if "@patch:" in resolution:
            continue  # the patched copy of an entry that is listed on its own
        name = _spec_name(resolution)
        if version and not _is_local(version):
            yield _Found(name, version)


def _pnpm_strip_peers(key: str) -> str:
    """``name@1.0.0(react@17.0.0)`` or v5 ``/name/1.0.0_react@17.0.0`` -> without peers."""
    paren = key.find("(")
    return key if paren < 0 else key[:paren]


def _pnpm_key(key: str, v5: bool) -> tuple[str, str] | None:
    """Name and version from a pnpm ``packages`` key."""
    k = key.lstrip("/")
    if v5:
        # "/name/1.0.0", "/@scope/name/1.0.0_peer@1.0.0", "registry.example/name/1.0.0"
        parts = k.split("/")
        if len(parts) < 2:
            return None
        version = parts[-1].split("_", 1)[0]
        if len(parts) >= 3 and parts[-3].startswith("@"):
            return f"{parts[-3]}/{parts[-2]}", version
        return parts[-2], version
    k = _pnpm_strip_peers(k)
    at = k.find("@", 1)
    if at < 0:
        return None
    return k[:at], k[at + 1 :]


def _pnpm_lock(text: str) -> Iterator[_Found]:
    doc = _load_yaml(text)
    if not isinstance(doc, dict):
        raise _LockError("not a YAML mapping")
    raw_version = str(doc.get("lockfileVersion", ""))
    try:
        major = int(float(raw_version))
    except (ValueError, OverflowError):  # ("1e400" is a float: infinity)
        raise _LockError(f"unknown lockfileVersion {raw_version!r}") from None
    packages = doc.get("packages") or {}
    if not isinstance(packages, dict):
        raise _LockError("'packages' is not a mapping")
    prod = _pnpm9_production(doc) if major >= 9 else None
    for key, entry in packages.items():
        if not isinstance(key, str):
            continue
        entry = entry if isinstance(entry, dict) else {}
        if entry.get("dev") is True:
            continue
        parsed = _pnpm_key(key, v5=major < 6)
        name = entry.get("name")
        version = entry.get("version")
        if not isinstance(name, str) or not isinstance(version, (str, int, float)):
            if parsed is None:
                continue
            name, version = parsed
        version = str(version)
        if prod is not None and _pnpm_strip_peers(key) not in prod:
            continue
        if version and not _is_local(version) and ":" not in version:
            yield _Found(name, version)


def _pnpm9_production(doc: Mapping[str, Any]) -> set[str] | None:
    """v9 marks no ``dev``: the keys reachable from importers' non-dev dependencies."""
    importers = doc.get("importers")
    snapshots = doc.get("snapshots")
    if not isinstance(importers, dict) or not isinstance(snapshots, dict):
        return None

    def key_of(name: str, ref: Any) -> str | None:
        if isinstance(ref, dict):
            ref = ref.get("version")
        if not isinstance(ref, str) or _is_local(ref):
            return None
        if "@" in _pnpm_strip_peers(ref)[1:]:
            return ref  # an alias: "bar@1.0.0"
        return f"{name}@{ref}"

    todo: list[str] = []
    for imp in importers.values():
        if not isinstance(imp, dict):
            continue
        for section in ("dependencies", "optionalDependencies"):
            deps = imp.get(section)
            if isinstance(deps, dict):
                todo.extend(k for n, r in deps.items() if (k := key_of(str(n), r)))
    seen: set[str] = set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        snap = snapshots.get(key)
        if not isinstance(snap, dict):
            continue
        for section in ("dependencies", "optionalDependencies"):
            deps = snap.get(section)
            if isinstance(deps, dict):
                todo.extend(k for n, r in deps.items() if (k := key_of(str(n), r)))
    return {_pnpm_strip_peers(k) for k in seen}


# --------------------------------------------------------------------------- merge rule


def dedupe_lockfile_packages(packages: Sequence[Package]) -> list[Package]:
    """Drop lockfile packages of a directory whose ``node_modules`` has installed packages.

    A lockfile says what an install *would* bring; where the install happened, the
    ``node_modules/**/package.json`` files are the truth (and carry licences and the
    exact tree). Packages of other ecosystems, and lockfile packages of directories
    with nothing installed, are kept in order.
    """
    installed_roots: set[str] = set()
    for p in packages:
        if p.ecosystem != NPM or p.extra.get("from_lockfile") == "true":
            continue
        marker = p.path.find("node_modules/")
        if marker >= 0:
            installed_roots.add(p.path[:marker].rstrip("/"))
    return [
        p
        for p in packages
        if not (
            p.ecosystem == NPM
            and p.extra.get("from_lockfile") == "true"
            and p.extra.get("lockfile_dir", "") in installed_roots
        )
    ]
