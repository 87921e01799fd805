"""summarise_window: what one plateau's paired readings leave in the record."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.procedure import summarise_window


def _window(seed: int, unit_noise_c: float, ramp_c_per_s: float) -> dict[str, np.ndarray]:
    """20 readings 5 s apart on a plateau that still moves: the unit and the reference
    see the same surface, each through its own noise; the unit reads 0.1 °C high."""
    rng = np.random.default_rng(seed)
    t = np.arange(20) * 5.0 + 1000.0
    surface = 20.0 + ramp_c_per_s * (t - t[0])
    ref = surface + rng.normal(0.0, 0.005, t.size)
    ind = surface + 0.1 + rng.normal(0.0, unit_noise_c, t.size)
    return {
        "t": t,
        "raw": ind - 0.2,
        "indicated": ind,
        "ref": ref,
        "uniformity": ref - 0.02,
        "depth_3mm": ref + 0.4,
        "plate": ref + 1.0,
        "ambient": np.full(t.size, 22.0),
    }


def test_the_plateau_movement_cancels_in_the_paired_differences() -> None:
    """Moving 0.2 °C/min (the stability band's edge), the readings alone scatter three
    times the unit's noise; their differences from the reference scatter as the noise."""
    w = summarise_window(_window(1, 0.03, 0.2 / 60.0), settle_s=120.0)
    assert w.n == 20 and w.settle_s == 120.0
    assert w.indicated_sd_c > 0.09 and w.reference_sd_c > 0.09
    assert 0.02 < w.difference_sd_c < 0.045
    assert w.indicated_c - w.reference_c == pytest.approx(0.1, abs=0.03)


def test_a_noisy_unit_keeps_its_scatter() -> None:
    w = summarise_window(_window(2, 0.3, 0.0), settle_s=60.0)
    assert 0.2 < w.difference_sd_c < 0.4
    assert w.reference_sd_c < 0.01


def test_the_spread_is_the_sample_standard_deviation_of_the_differences() -> None:
    raw = _window(3, 0.05, 0.001)
    w = summarise_window(raw, settle_s=0.0)
    d = raw["indicated"] - raw["ref"]
    assert w.difference_sd_c == pytest.approx(float(np.std(d, ddof=1)), rel=1e-12)
    assert (w.t_start_s, w.t_end_s) == (1000.0, 1095.0)
