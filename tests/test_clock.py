"""Timestamps: the per-second fast path writes exactly what datetime would, rounding edges included."""

from __future__ import annotations

import random
from datetime import UTC
from datetime import datetime

import pytest

from mock_server.clock import discord_timestamp
from mock_server.clock import iso_millis

EDGES = [0.0, 0.0004, 0.0005, 0.9995, 0.9996, 1767225599.9995, 1767225600.0015, 253402300799.9994]


def reference(epoch: float) -> datetime:
    return datetime.fromtimestamp(round(epoch, 3), UTC)


@pytest.mark.parametrize("epoch", EDGES + [random.Random(7).uniform(0, 4102444800) for _ in range(100)])
def test_timestamps_match_datetime(epoch):
    moment = reference(epoch)
    millis = f"{moment.microsecond // 1000:03d}"
    assert iso_millis(epoch) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "Z"
    assert discord_timestamp(epoch) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "000+00:00"


def test_documented_formats():
    assert iso_millis(1694225089.667) == "2023-09-09T02:04:49.667Z"
    assert discord_timestamp(1694225091.926) == "2023-09-09T02:04:51.926000+00:00"
