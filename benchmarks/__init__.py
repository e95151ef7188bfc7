"""Reproducible benchmarks; figures recorded in docs/benchmarks.md."""
