"""customhouse: decide which container images may enter your infrastructure."""

__version__ = "0.1.0"
