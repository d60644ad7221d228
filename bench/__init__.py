"""pixverse-mock's benchmarks: ``make bench`` (``python -m bench``); results in ``bench/RESULTS.md``.

Not part of the test suite (nothing under ``tests/`` imports it). See :mod:`bench.__main__`.
"""
