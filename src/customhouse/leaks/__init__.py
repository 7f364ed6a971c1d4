"""Leaks: secrets and sensitive files in every layer, the config and the history."""
