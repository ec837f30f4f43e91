"""Benchmark harnesses (throughput of training and inference); no stage package imports them."""
