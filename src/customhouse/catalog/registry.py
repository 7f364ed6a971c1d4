"""The catalogers customhouse runs, in one place (imported lazily)."""

from __future__ import annotations

import importlib

from customhouse.catalog.interface import Cataloger

# module:class, in no particular order; a module that does not exist yet is skipped
_CATALOGERS = (
    "customhouse.catalog.osrelease:OSReleaseCataloger",
    "customhouse.catalog.dpkg:DpkgCataloger",
    "customhouse.catalog.apk:ApkCataloger",
    "customhouse.catalog.rpm:RpmCataloger",
    "customhouse.catalog.python:PythonCataloger",
    "customhouse.catalog.npm:NpmCataloger",
    "customhouse.catalog.gobin:GoBinaryCataloger",
    "customhouse.catalog.java:JavaCataloger",
    "customhouse.catalog.gem:GemCataloger",
)


def default_catalogers() -> list[Cataloger]:
    out: list[Cataloger] = []
    for spec in _CATALOGERS:
        module_name, _, cls = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                continue
            raise
        out.append(getattr(module, cls)())
    return out
