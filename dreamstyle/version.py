"""The package version, in a module of its own so that anything can read it without importing
the package's heavier parts (torch)."""

__version__ = "0.2.0"
