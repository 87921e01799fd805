"""The acquisition's time-windowed row store: windows by binary search while the rows
arrive in time order, by mask otherwise, the same rows either way."""

from __future__ import annotations

import numpy as np
import pytest

from rig.acquisition import _TimeRows


def _masked(rows: np.ndarray, t_from: float | None, t_to: float | None) -> np.ndarray:
    sel = np.ones(len(rows), dtype=bool)
    if t_from is not None:
        sel &= rows[:, 0] >= t_from
    if t_to is not None:
        sel &= rows[:, 0] <= t_to
    return rows[sel]


def _blocks(rows: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    cuts = np.sort(rng.choice(np.arange(1, len(rows)), size=40, replace=False))
    return np.split(rows, cuts)


@pytest.mark.parametrize("ordered", [True, False])
def test_windows_match_a_mask_over_every_row(ordered: bool) -> None:
    rng = np.random.default_rng(3)
    t = np.repeat(np.arange(0.0, 500.0, 0.25), 3)  # three channels per instant, ties included
    if not ordered:
        t[700:760] -= 30.0  # one late block: times go back
    rows = np.column_stack(
        [t, np.tile([101.0, 102.0, 103.0], len(t) // 3), rng.normal(size=len(t))]
    )
    store = _TimeRows(3)
    for block in _blocks(rows, rng):
        store.extend(block)
        store.extend(block[:0])  # an empty fetch changes nothing
    assert len(store) == len(rows)
    assert store.ordered is ordered
    for t_from, t_to in [
        (None, None),
        (10.0, 20.0),
        (None, 3.0),
        (497.5, None),
        (12.3, 12.3),
        (12.25, 12.25),
        (600.0, 700.0),
        (-5.0, 0.0),
        (170.0, 190.0),
        (25.0, 40.0),  # holds the late block when there is one
    ]:
        np.testing.assert_array_equal(store.window(t_from, t_to), _masked(rows, t_from, t_to))
