"""Benchmarks: scripts that print figures (make bench). Never timed tests."""
