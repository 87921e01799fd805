"""Figures come out as PNG bytes of the promised size, with or without data."""

from __future__ import annotations

import struct

import numpy as np

from reports import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_MAGIC)
    return struct.unpack(">II", png[16:24])


def test_treatment_figure_is_a_small_png() -> None:
    t = np.linspace(0, 40, 2000)
    png = plots.treatment_figure(
        "test_shock",
        [plots.Series("101", t, 33 - 28 * (1 - np.exp(-t / 8)))],
        valve_open=[(0.5, 30.5)],
        limits=[plots.LimitLine(2.5, "min ≥ 2.5 °C")],
        bands=[plots.Band(3.0, 5.0, "target 4 ± 1 °C", centre=4.0)],
    )
    width, height = png_size(png)
    assert (width, height) == (800, 350)


def test_figures_without_data_still_render() -> None:
    empty = plots.Series("101", np.empty(0), np.empty(0))
    assert png_size(plots.treatment_figure("empty", [empty]))
    assert png_size(plots.overview_figure([], None))
    assert png_size(plots.histogram_figure("nothing", None))


def test_overview_and_histogram() -> None:
    t = np.linspace(0, 800, 8000)
    temps = [plots.Series(str(ch), t, np.full_like(t, ch / 4)) for ch in (101, 102)]
    current = plots.Series("current", t, np.where(t > 700, 0.8, 0.08))
    assert png_size(plots.overview_figure(temps, current, highlight=[(700, 750)]))
    values = np.random.default_rng(1).normal(20, 1, 200)
    png = plots.histogram_figure("drop", values, mean=20, sd=1, low=14, high=None, unit="K")
    assert png_size(png) == (800, 350)


def test_data_uri() -> None:
    assert plots.data_uri(b"\x89PNG").startswith("data:image/png;base64,iVBORw")
