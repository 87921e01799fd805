"""Report figures as PNG bytes, drawn with matplotlib's Agg renderer.

Figures are built on :class:`matplotlib.figure.Figure` directly, never through
``pyplot``: pyplot keeps every figure in a global registry (a leak in a long-lived
station process unless each is closed) and picks a GUI backend when a screen is
present, while a bare Figure on an Agg canvas needs neither a display nor cleanup
and is safe to draw from several threads at once.

Everything here takes plain arrays (no run records), so the figures can be tested
and reused without a rig. Sizes are small on purpose (8 × 3.5 in at 100 dpi): a
report embeds every figure as a base64 ``data:`` URI so it stays one file that can be
mailed or archived, and a report of about eight figures renders in about a second.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import io
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "FIGSIZE",
    "Band",
    "LimitLine",
    "Series",
    "data_uri",
    "decimate",
    "histogram_figure",
    "overview_figure",
    "to_png",
    "treatment_figure",
]

FIGSIZE = (8.0, 3.5)
DPI = 100
PNG_COMPRESSION = 1
MAX_BINS = 400
BUCKETS = 1000
"""Min/max buckets a line is reduced to: more than the ~560 pixel columns of a plot."""
VALVE_COLOUR = "#9ecae1"
LIMIT_COLOUR = "#c62828"
TARGET_COLOUR = "#2e7d32"
SETTING_COLOUR = "#546e7a"


@dataclass(frozen=True)
class Series:
    """One line of a plot: ``y`` against ``t`` (seconds), with its legend label."""

    label: str
    t: np.ndarray
    y: np.ndarray
    style: str = "-"
    width: float = 1.2
    colour: str | None = None
    zorder: float = 2.0


@dataclass(frozen=True)
class LimitLine:
    """A horizontal limit (a judged bound of a measurement) drawn across a plot."""

    value: float
    label: str
    setting: bool = False
    """A protocol setting (e.g. the cutoff threshold) rather than a judged limit."""


@dataclass(frozen=True)
class Band:
    """A horizontal band (e.g. target ± tolerance) shaded behind the data."""

    low: float
    high: float
    label: str
    centre: float | None = None


# --- output --------------------------------------------------------------------------------------
def to_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes on an Agg canvas (no display, nothing global).

    zlib level 1 instead of the default 6: flat-coloured plots compress nearly as well
    and encoding is a sizeable part of a figure's time.
    """
    canvas = FigureCanvasAgg(fig)
    buf = io.BytesIO()
    canvas.print_png(buf, pil_kwargs={"compress_level": PNG_COMPRESSION})
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    """A ``data:`` URI for an ``<img src>``, so the HTML needs no files beside it."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def decimate(t: np.ndarray, y: np.ndarray, buckets: int = BUCKETS) -> tuple[np.ndarray, np.ndarray]:
    """``(t, y)`` reduced to each bucket's extremes, in the order they occur.

    A run holds tens of thousands of points per channel but a plot has a few hundred
    pixel columns; drawing them all costs time and shows nothing more. Keeping each
    bucket's minimum and maximum (not every n-th point) keeps every peak, dip and
    valve edge visible: a dip below a limit is never decimated away.
    """
    t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    if t.size <= 2 * buckets:
        return t, y
    starts = np.linspace(0, t.size, buckets + 1).astype(np.intp)[:-1]
    ends = np.append(starts[1:], t.size) - 1
    lo, hi = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
    falling = y[ends] < y[starts]
    first = np.where(falling, hi, lo)
    second = np.where(falling, lo, hi)
    return (
        np.column_stack([t[starts], t[ends]]).ravel(),
        np.column_stack([first, second]).ravel(),
    )


def _figure(rows: int = 1, height_ratios: Sequence[float] | None = None) -> tuple[Figure, list]:
    """A small figure with ``rows`` stacked axes sharing the time axis.

    Margins are fixed (room on the right for the legend) rather than computed by a
    layout engine: constrained layout measures every tick label of every axis and
    was half of a report's render time.
    """
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    fig.subplots_adjust(left=0.075, right=0.70, top=0.91, bottom=0.14, hspace=0.12)
    if rows == 1:
        return fig, [fig.add_subplot()]
    axes = fig.subplots(rows, 1, sharex=True, height_ratios=height_ratios)
    return fig, list(axes)


def _shade(
    ax: Axes, intervals: Sequence[tuple[float, float]], colour: str, alpha: float, label: str | None
) -> None:
    """Shade time intervals over the full height as one polygon: a HOLD treatment pulses
    the valve hundreds of times, and one patch per pulse (``axvspan``) costs seconds."""
    if not intervals:
        return
    x = np.array([[a, a, b, b] for a, b in intervals], dtype=float).ravel()
    y = np.tile([0.0, 1.0, 1.0, 0.0], len(intervals))
    ax.fill_between(
        x, 0.0, y, color=colour, alpha=alpha, lw=0, label=label, transform=ax.get_xaxis_transform()
    )


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr)]


def _legend(ax: Axes) -> None:
    """Legend outside the plot area: ``loc="best"`` scans every data point (slow on
    long records) and an inside legend hides the data it explains."""
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)


def _message(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


# --- drawn once ----------------------------------------------------------------------------------
MEMO_SIZE = 32
"""Figures kept per process (a plan draws about ten)."""

_memo: OrderedDict[str, bytes] = OrderedDict()


def _feed(h: Any, obj: Any) -> None:
    """Hash ``obj`` by value: arrays by dtype, shape and bytes; dataclasses by fields."""
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        h.update(f"nd{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(type(obj).__qualname__.encode())
        for f in dataclasses.fields(obj):
            _feed(h, getattr(obj, f.name))
    elif isinstance(obj, (list, tuple)):
        h.update(f"seq{len(obj)}(".encode())
        for item in obj:
            _feed(h, item)
        h.update(b")")
    elif isinstance(obj, dict):
        h.update(f"map{len(obj)}(".encode())
        for key in sorted(obj):
            _feed(h, key)
            _feed(h, obj[key])
        h.update(b")")
    elif obj is None or isinstance(obj, (str, int, float, bool, np.generic)):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    else:
        raise TypeError(f"cannot key a figure on a {type(obj).__name__}")


def drawn_once(draw: Callable[..., bytes]) -> Callable[..., bytes]:
    """Memoise a figure on the values of everything it is drawn from.

    A station's report worker draws each treatment window while the plan goes on
    (:func:`reports.eol.prerender_figures`); the report at the end then finds the ones
    whose data has not changed since. The key is a hash of every argument's value (each
    array's bytes), so a window whose data, limits or title changed in any way is drawn
    again: the memo can make a report faster, never different.
    """

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> bytes:
        h = hashlib.blake2b(draw.__qualname__.encode(), digest_size=20)
        _feed(h, list(args))
        _feed(h, kwargs)
        key = h.hexdigest()
        png = _memo.get(key)
        if png is None:
            png = _memo[key] = draw(*args, **kwargs)
            while len(_memo) > MEMO_SIZE:
                _memo.popitem(last=False)
        else:
            _memo.move_to_end(key)
        return png

    return wrapper


# --- treatment window ----------------------------------------------------------------------------
@drawn_once
def treatment_figure(
    title: str,
    temperatures: Sequence[Series],
    *,
    valve_open: Sequence[tuple[float, float]] = (),
    valve_label: str = "valve open",
    limits: Sequence[LimitLine] = (),
    bands: Sequence[Band] = (),
    xlabel: str = "time (s)",
) -> bytes:
    """Temperatures of one treatment window with the valve-open intervals shaded and the
    judged limits drawn, so a reviewer sees the verdict's evidence in one picture."""
    fig, (ax,) = _figure()
    for band in bands:
        ax.axhspan(band.low, band.high, color=TARGET_COLOUR, alpha=0.10, lw=0, label=band.label)
        if band.centre is not None:
            ax.axhline(band.centre, color=TARGET_COLOUR, lw=0.8, ls=":")
    _shade(ax, valve_open, VALVE_COLOUR, 0.35, valve_label)
    for s in temperatures:
        ax.plot(
            *decimate(s.t, s.y), s.style, lw=s.width, color=s.colour, label=s.label, zorder=s.zorder
        )
    for lim in limits:
        colour, style = (SETTING_COLOUR, "-.") if lim.setting else (LIMIT_COLOUR, "--")
        ax.axhline(lim.value, color=colour, lw=0.9, ls=style, label=lim.label)
    if not any(len(s.t) for s in temperatures):
        _message(ax, "no temperature samples in this window")
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("°C", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, lw=0.3, alpha=0.5)
    _legend(ax)
    return to_png(fig)


# --- whole run -----------------------------------------------------------------------------------
def overview_figure(
    temperatures: Sequence[Series],
    current: Series | None,
    *,
    highlight: Sequence[tuple[float, float]] = (),
    highlight_label: str = "treatment windows",
) -> bytes:
    """The whole run: every thermocouple on top, the supply current below, the treatment
    windows shaded, so conditioning, treatments and recovery can be seen in order."""
    fig, (top, bottom) = _figure(2, height_ratios=(2.2, 1.0))
    for ax in (top, bottom):
        _shade(ax, highlight, "0.85", 0.6, highlight_label if ax is top else None)
    for s in temperatures:
        top.plot(
            *decimate(s.t, s.y), s.style, lw=s.width, color=s.colour, label=s.label, zorder=s.zorder
        )
    if not any(len(s.t) for s in temperatures):
        _message(top, "no logger samples recorded")
    if current is not None and len(current.t):
        bottom.plot(*decimate(current.t, current.y), lw=0.9, color="#6a1b9a", label=current.label)
    else:
        _message(bottom, "no supply samples recorded")
    top.set_title("Whole run", fontsize=9, loc="left")
    top.set_ylabel("°C", fontsize=8)
    bottom.set_ylabel("A", fontsize=8)
    bottom.set_xlabel("rig time (s)", fontsize=8)
    for ax in (top, bottom):
        ax.tick_params(labelsize=7)
        ax.grid(True, lw=0.3, alpha=0.5)
        _legend(ax)
    return to_png(fig)


# --- fleet ---------------------------------------------------------------------------------------
def _normal_curve(mean: float, sd: float, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(lo, hi, 200)
    return x, np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))


def _x_range(
    values: np.ndarray, mean: float | None, sd: float | None, bounds: Sequence[float]
) -> tuple[float, float]:
    """A range that shows the data, ±4 sd of the fit and both limits."""
    points = list(values) + list(bounds)
    if mean is not None and sd:
        points += [mean - 4 * sd, mean + 4 * sd]
    if not points:
        return 0.0, 1.0
    lo, hi = min(points), max(points)
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(lo) * 0.05, 1e-9)
    return lo - pad, hi + pad


def _bins(data: np.ndarray, lo: float, hi: float) -> np.ndarray | int:
    """Bin edges across the whole plotted range with a width set by the data alone
    (about √n bins over the data's spread), so limits far from the data do not make
    the bins coarse."""
    spread = float(data.max() - data.min())
    if spread <= 0:
        return 10
    width = spread / max(5, round(math.sqrt(data.size)))
    count = math.ceil((hi - lo) / width)
    if count > MAX_BINS:  # a limit very far from a tight process: cap the bin count
        return np.linspace(lo, hi, MAX_BINS + 1)
    return np.linspace(lo, lo + count * width, count + 1)


def histogram_figure(
    title: str,
    values: Sequence[float] | np.ndarray | None,
    *,
    mean: float | None = None,
    sd: float | None = None,
    low: float | None = None,
    high: float | None = None,
    unit: str = "",
) -> bytes:
    """A measurement's spread across a fleet against its limits: the histogram of the
    values when the summary carries them, and the normal fit the Cpk assumes."""
    fig, (ax,) = _figure()
    data = _finite(values if values is not None else [])
    bounds = [b for b in (low, high) if b is not None and math.isfinite(b)]
    lo, hi = _x_range(data, mean, sd, bounds)
    if data.size:
        ax.hist(
            data,
            bins=_bins(data, lo, hi),
            density=True,
            color="#90a4ae",
            edgecolor="white",
            label=f"values (n={data.size})",
        )
    if mean is not None and sd is not None and math.isfinite(mean) and sd > 0:
        ax.plot(*_normal_curve(mean, sd, lo, hi), color="#37474f", lw=1.2, label="normal fit")
    for value, name in ((low, "low limit"), (high, "high limit")):
        if value is not None and math.isfinite(value):
            ax.axvline(value, color=LIMIT_COLOUR, ls="--", lw=1.0, label=f"{name} {value:g}")
    if not data.size and not (sd and sd > 0):
        _message(ax, "no values or spread in the summary")
    ax.set_xlim(lo, hi)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_xlabel(unit or "value", fontsize=8)
    ax.set_ylabel("density", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, lw=0.3, alpha=0.5)
    _legend(ax)
    return to_png(fig)
