"""Latency benchmarks for the Wyoming server and the Workers AI client (see README)."""
