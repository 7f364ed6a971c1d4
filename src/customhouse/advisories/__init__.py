"""Advisories: one internal model (OSV), a local SQLite store, feeds that convert into it."""
