"""Probe families, one module each. Importing this package registers them all."""

from . import derived, manual  # noqa: F401
