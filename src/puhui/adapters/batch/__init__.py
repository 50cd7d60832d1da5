"""Batch jobs (end of day), vectorized over partitions of loans."""
