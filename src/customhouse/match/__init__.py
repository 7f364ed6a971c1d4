"""Matching: inventory x advisory store -> findings; ignores and VEX."""
