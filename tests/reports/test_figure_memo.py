"""Figures drawn once: the memo keys on every value a figure is drawn from."""

from __future__ import annotations

import numpy as np
import pytest

from reports import plots
from reports.plots import Band, LimitLine, Series, drawn_once


@pytest.fixture
def counted() -> tuple[list[int], object]:
    calls: list[int] = []
    plots._memo.clear()  # one process memo: start each test without the last one's figures

    @drawn_once
    def draw(title: str, series: list[Series], **kw: object) -> bytes:
        calls.append(1)
        return f"{title}:{len(calls)}".encode()

    return calls, draw


def _series(y: np.ndarray) -> list[Series]:
    return [Series("ref", np.arange(y.size, dtype=float), y)]


def test_same_values_drawn_once(counted) -> None:
    calls, draw = counted
    y = np.linspace(33.0, 4.0, 50)
    first = draw("SHOCK", _series(y), limits=[LimitLine(5.0, "max")])
    again = draw("SHOCK", _series(y.copy()), limits=[LimitLine(5.0, "max")])  # equal, not same
    assert first == again and len(calls) == 1


@pytest.mark.parametrize(
    "change",
    ["one sample", "dtype", "title", "limit", "band", "keyword"],
)
def test_any_change_draws_again(counted, change: str) -> None:
    calls, draw = counted
    y = np.linspace(33.0, 4.0, 50)
    base = {"limits": [LimitLine(5.0, "max")], "bands": [Band(3.5, 4.5, "target")]}
    draw("SHOCK", _series(y), **base)
    title, series, kw = "SHOCK", _series(y), dict(base)
    if change == "one sample":
        y2 = y.copy()
        y2[17] = np.nextafter(y2[17], 100.0)  # the least change a float can make
        series = _series(y2)
    elif change == "dtype":
        series = [Series("ref", np.arange(50, dtype=np.float32), y)]
    elif change == "title":
        title = "SHOCK (test never ended)"
    elif change == "limit":
        kw["limits"] = [LimitLine(5.0, "max", setting=True)]
    elif change == "band":
        kw["bands"] = [Band(3.5, 4.5, "target", centre=4.0)]
    else:
        kw["xlabel"] = "s from valve open"
    draw(title, series, **kw)
    assert len(calls) == 2


def test_memo_is_bounded(counted) -> None:
    calls, draw = counted
    for i in range(plots.MEMO_SIZE + 5):
        draw(f"t{i}", _series(np.full(3, float(i))))
    assert len(plots._memo) <= plots.MEMO_SIZE
    draw("t0", _series(np.full(3, 0.0)))  # the oldest went first: drawn again
    assert len(calls) == plots.MEMO_SIZE + 6


def test_unkeyable_argument_is_an_error(counted) -> None:
    _, draw = counted
    with pytest.raises(TypeError, match="cannot key a figure"):
        draw("x", _series(np.zeros(2)), extra=object())


def test_the_real_figure_is_the_same_bytes_either_way() -> None:
    y = np.linspace(33.0, 4.0, 400)
    args = ("SHOCK", _series(y))
    plots._memo.clear()
    drawn = plots.treatment_figure(*args, valve_open=[(1.0, 20.0)])
    assert plots.treatment_figure(*args, valve_open=[(1.0, 20.0)]) is drawn  # from the memo
    plots._memo.clear()
    assert plots.treatment_figure(*args, valve_open=[(1.0, 20.0)]) == drawn  # drawn again
