"""Benchmarks that print numbers (`make bench`); they assert nothing."""
