"""Values read as they were measured: enough digits, no more, special floats spelled out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reports.formatting import (
    format_duration,
    format_number,
    format_uncertainty,
    format_value,
    is_missing,
    verdict_class,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (12.6017989, "12.60"),
        (0.0793031063, "0.07930"),
        (826.21, "826.2"),
        (20.2378109, "20.24"),
        (-3.14159, "-3.142"),
        (1.5e7, "1.500e+07"),
        (2.5e-5, "2.500e-05"),
        (math.inf, "∞"),
        (-math.inf, "−∞"),
        (math.nan, "NaN"),
    ],
)
def test_numbers_to_four_significant_digits(value: float, expected: str) -> None:
    assert format_number(value) == expected


def test_an_uncertainty_fixes_the_last_digit() -> None:
    assert format_number(12.6017989, 0.05) == "12.602"
    assert format_number(12.6017989, 0.25) == "12.60"
    assert format_number(812.4, 12.0) == "812"
    assert format_uncertainty(0.0512, "°C") == "± 0.051 °C"
    assert format_uncertainty(0.0082, "s", 2.0) == "± 0.0082 s (k = 2)"
    assert format_uncertainty(0.139, "°C", 1.9693) == "± 0.14 °C (k = 1.97)"
    assert format_uncertainty(None) == ""
    assert format_uncertainty(float("nan")) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("inf", "∞"),
        ("-inf", "−∞"),
        ("nan", "NaN"),
        (True, "True"),
        ("PASS", "PASS"),
        ("INSTANTCRYO IC-1", "INSTANTCRYO IC-1"),
        (np.float64(0.5), "0.5000"),
        (3, "3.000"),
        (None, "—"),
    ],
)
def test_recorded_values_of_every_type(value: object, expected: str) -> None:
    assert format_value(value) == expected


def test_missing_and_verdicts() -> None:
    assert is_missing(None) and is_missing(float("nan")) and is_missing(" ")
    assert not is_missing(0.0)
    assert verdict_class("NOT_RUN") == "not-run"
    assert verdict_class("fail") == "fail"
    assert verdict_class("bogus") == "unknown"


def test_durations() -> None:
    assert format_duration(4.56) == "4.6 s"
    assert format_duration(252) == "4 min 12 s"
    assert format_duration(3725) == "1 h 02 min 05 s"
    assert format_duration(None) == "—"
