"""Helpers of scripts/benchmark.py: timing, machine description, PyTorch references, cases,
the markdown report. Not part of the initjax package."""
