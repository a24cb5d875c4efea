"""Benchmarks: dreamstyle against a naive baseline (see __main__.py)."""
