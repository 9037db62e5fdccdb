"""Benchmarks (`make bench`), each printing ratios against a baseline and a final RESULT line."""
