"""Benchmarks: the full stack under load, beside the database's own limit (`python -m bench`)."""
