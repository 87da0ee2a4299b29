"""Benchmarks (control quality, campus load against peers, scale); see README.md beside this."""
