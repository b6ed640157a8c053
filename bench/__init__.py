"""Benchmarks: `make bench` writes their figures to bench/results.json."""
