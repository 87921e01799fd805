"""The GUM uncertainty budget of the unit's error at one calibration point (JCGM 100).

Measurand: ``E = I − T_s``, the unit's indication minus the temperature of the surface
its sensor sees (the record's sign convention, :mod:`calibration.record`). Model::

    I   = Ī + δI_res + δI_rep + δI_fit
    T_s = R̄ + C_ref + δ_drift + δ_CJC + δ_junction + δ_unif

* ``Ī`` mean of the unit's n readings over the window; ``R̄`` mean of the reference
  channel 101 over the same window, already corrected by its certificate's correction.
  Both are exact inputs here: their scatter is carried by ``δI_rep``.
* ``δI_res`` the unit's display resolution: rectangular, half-width resolution/2.
* ``δI_rep`` the repeatability of **one indication**, from the n paired differences
  ``dᵢ = Iᵢ − Rᵢ`` (each unit reading minus the reference's latest scan at or before it):
  type A, ``u = s_d·√(1 + 1/n)``, ν = n − 1. REQ-SENS-01 judges "the corrected skin
  reading", and the firmware acts on single readings, so the error stated is that of a
  single indication: its scatter about the window's mean error (s_d) and the
  uncertainty of that mean (s_d/√n). The differences are used, not the unit's readings
  alone, because the plateau still moves within its stability band while the window is
  read, and unit and reference move together: that common movement is not the unit's
  scatter and cancels in ``dᵢ``. The reference's own random noise stays in s_d, which
  is why there is no separate reference-repeatability row (it would count it twice).
* ``δI_fit`` the fitted correction line at this point (as-left points only; as-found
  points are judged on the unit's own, unfitted correction): u = ``fit_u_c``
  (:meth:`calibration.fit.LineFit.predict`), type A, ν = ``fit_dof``. Its row is always
  listed, with u = 0 on an as-found point.
* ``C_ref`` the reference system's calibration (thermocouple and logger channel as one
  system): normal, u = U/k from the certificate, ν from the certificate or infinite.
* ``δ_drift`` drift since that calibration: rectangular, half-width rate × years.
* ``δ_CJC`` stability of the logger's reference-junction compensation: rectangular.
* ``δ_junction`` the thin-foil junction sits ``junction_depth_mm`` below the surface
  in a phantom carrying a heat flux ``q``, so it reads ``q·R(0, d)`` (``q·d/k_top`` in
  the top layer) colder than the top surface when heat flows down. It is **not**
  applied as a correction: an IR thermopile does not see the geometric surface but
  radiation from an optical depth of the same order as ``d`` (tens of µm in
  polymer and skin), so the depth the sensor effectively sees can lie on either side
  of the junction. The difference is bounded, not known: rectangular, estimate 0,
  half-width ``|q|·R(0, d)``.
* ``δ_unif`` non-uniformity over the 10 mm spot, bounded by the difference between
  channel 101 (spot centre) and channel 102 (10 mm off it): rectangular, half-width
  ``|T101 − T102|``.

The heat flux is estimated twice, across the layers above channel 103 (3 mm deep),
``q_upper = (T101 − T103)/R(0, 3 mm)``, and below it to the stage plate,
``q_lower = (T103 − T104)/(R(3 mm, bottom) + R_contact)``. In steady state they agree;
during a transient (or with an unmodelled contact resistance) they differ, and the
larger magnitude is taken because it bounds the junction difference from above.

All inputs are independent (each comes from a different source), and the model is
linear with sensitivities ±1, so the combined uncertainty is the root sum of squares
of the rows and ν_eff is the Welch–Satterthwaite formula (JCGM 100 G.4.1). Both come
from GTC (``ureal``, ``reporting.u_component``, ``.df``, ``reporting.k_factor``), and
docs/calibration-budget.md works the same budget by hand for one point.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, NamedTuple

from calibration.record import Budget, BudgetRow

__all__ = [
    "SIM_PHANTOM_LAYERS",
    "HeatFlux",
    "Layer",
    "PointInputs",
    "error_estimate",
    "heat_flux",
    "junction_half_width_c",
    "point_budget",
    "thermal_resistance_m2k_w",
    "years_between",
]


class Layer(NamedTuple):
    """One layer of the skin phantom, top first."""

    thickness_mm: float
    conductivity_w_mk: float


SIM_PHANTOM_LAYERS: tuple[Layer, ...] = (Layer(0.1, 0.21), Layer(1.9, 0.37), Layer(4.0, 0.21))
"""The simulated bench's 6 mm phantom (docs/sim.md); a real bench passes its phantom's."""


@dataclass(frozen=True, kw_only=True)
class PointInputs:
    """Everything the budget of one point needs; temperatures in °C, all corrected.

    ``reference_c`` is the mean of channel 101 (T101); ``t102_c``, ``t103_c`` and
    ``t104_c`` the means of channels 102 (surface 10 mm off the spot), 103 (3 mm deep)
    and 104 (stage plate) over the same window.
    """

    indicated_c: float
    """Ī: mean of the unit's readings."""
    reference_c: float
    """R̄ = T101: mean of the reference channel, corrected by its certificate."""
    difference_sd_c: float
    """s_d: sample standard deviation of the n paired differences Iᵢ − Rᵢ."""
    n: int
    """Number of paired readings in the window."""
    t102_c: float
    t103_c: float
    t104_c: float
    cert_expanded_c: float
    """U of the reference system's certificate."""
    cert_k: float
    cert_dof: float | None = None
    """ν the certificate states for U; ``None`` (not stated) is taken as infinite."""
    drift_c_per_year: float
    years_since_cal: float
    """Years from the reference's certificate date to the calibration (:func:`years_between`)."""
    cjc_half_width_c: float
    layers: tuple[Layer, ...] = SIM_PHANTOM_LAYERS
    junction_depth_mm: float = 0.025
    depth_103_mm: float = 3.0
    contact_resistance_m2k_w: float = 0.0
    """Phantom bottom to stage plate; 0 neglects it, which over-estimates |q_lower|."""
    resolution_c: float = 0.01
    fit_u_c: float | None = None
    """As-left only: u of the fitted correction line at this point's raw reading."""
    fit_dof: float | None = None
    """ν of ``fit_u_c``; ``None`` is infinite (a weighted fit)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float | int) and not isinstance(v, bool) and not math.isfinite(v):
                raise ValueError(f"{f.name} = {v!r}: not a finite number")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 2:
            raise ValueError(f"n = {self.n!r}: a type A evaluation needs at least 2 readings")
        for name in (
            "difference_sd_c",
            "cert_expanded_c",
            "drift_c_per_year",
            "years_since_cal",
            "cjc_half_width_c",
            "contact_resistance_m2k_w",
        ):
            if getattr(self, name) < 0.0:
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be >= 0")
        for name in ("cert_k", "resolution_c", "junction_depth_mm", "depth_103_mm"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be > 0")
        for name in ("cert_dof", "fit_dof"):
            v = getattr(self, name)
            if v is not None and not v >= 1.0:
                raise ValueError(f"{name} = {v!r}: degrees of freedom must be >= 1 (or None)")
        if self.fit_u_c is not None and not self.fit_u_c >= 0.0:
            raise ValueError(f"fit_u_c = {self.fit_u_c!r}: must be >= 0")
        if self.fit_u_c is None and self.fit_dof is not None:
            raise ValueError(f"fit_dof = {self.fit_dof!r} given without fit_u_c")
        if not self.layers:
            raise ValueError("layers: empty; the phantom needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not (layer.thickness_mm > 0.0 and layer.conductivity_w_mk > 0.0):
                raise ValueError(f"layers[{i}] = {tuple(layer)!r}: thickness and k must be > 0")
        total = sum(layer.thickness_mm for layer in self.layers)
        if not self.junction_depth_mm < self.depth_103_mm < total:
            raise ValueError(
                f"depth_103_mm = {self.depth_103_mm!r}: must lie below the junction "
                f"({self.junction_depth_mm} mm) and inside the phantom ({total} mm)"
            )


def years_between(start: dt.date | str, end: dt.date | str) -> float:
    """Elapsed time in Julian years (365.25 d) from ``start`` to ``end`` (ISO dates allowed)."""
    a = dt.date.fromisoformat(start) if isinstance(start, str) else start
    b = dt.date.fromisoformat(end) if isinstance(end, str) else end
    days = (b - a).days
    if days < 0:
        raise ValueError(f"end {b.isoformat()} is before the certificate date {a.isoformat()}")
    return days / 365.25


def thermal_resistance_m2k_w(layers: Sequence[Layer], top_mm: float, bottom_mm: float) -> float:
    """Conductive resistance per unit area, Σ thickness/k, between two depths (m²K/W)."""
    if not 0.0 <= top_mm <= bottom_mm:
        raise ValueError(f"depths {top_mm!r}..{bottom_mm!r} mm: need 0 <= top <= bottom")
    r = 0.0
    z = 0.0
    for layer in layers:
        lo, hi = max(z, top_mm), min(z + layer.thickness_mm, bottom_mm)
        if hi > lo:
            r += (hi - lo) * 1e-3 / layer.conductivity_w_mk
        z += layer.thickness_mm
    if bottom_mm > z * (1.0 + 1e-12):
        raise ValueError(f"depth {bottom_mm!r} mm lies below the phantom's {z} mm")
    return r


class HeatFlux(NamedTuple):
    """Heat flux through the phantom in W/m², positive downward (surface → plate)."""

    upper_w_m2: float
    lower_w_m2: float
    used_w_m2: float
    """The larger magnitude of the two (with its sign)."""


def heat_flux(inputs: PointInputs) -> HeatFlux:
    """``q_upper`` above channel 103, ``q_lower`` below it, and the one the budget uses."""
    bottom = sum(layer.thickness_mm for layer in inputs.layers)
    r_up = thermal_resistance_m2k_w(inputs.layers, 0.0, inputs.depth_103_mm)
    r_lo = (
        thermal_resistance_m2k_w(inputs.layers, inputs.depth_103_mm, bottom)
        + inputs.contact_resistance_m2k_w
    )
    q_up = (inputs.reference_c - inputs.t103_c) / r_up
    q_lo = (inputs.t103_c - inputs.t104_c) / r_lo
    return HeatFlux(q_up, q_lo, q_up if abs(q_up) >= abs(q_lo) else q_lo)


def junction_half_width_c(inputs: PointInputs) -> float:
    """``|q| · R(0, d)``: the temperature drop over the junction's depth d (= |q|·d/k_top)."""
    r_d = thermal_resistance_m2k_w(inputs.layers, 0.0, inputs.junction_depth_mm)
    return abs(heat_flux(inputs).used_w_m2) * r_d


_Side = Literal["I", "T"]


@dataclass(frozen=True)
class _Component:
    key: str
    name: str
    symbol: str
    side: _Side
    """Which side of E = I − T_s it enters: sensitivity +1 for I, −1 for T."""
    type: Literal["A", "B"]
    distribution: Literal["normal", "rectangular", "t"]
    u: float
    half_width: float | None
    dof: float | None
    note: str


def _rectangular(key: str, name: str, symbol: str, side: _Side, a: float, note: str) -> _Component:
    """Type B, bounds ±a known, nothing else: u = a/√3 (JCGM 100 4.3.7), ν infinite."""
    from GTC import type_b  # imported when first used: GTC brings scipy (a second)

    return _Component(
        key, name, symbol, side, "B", "rectangular", float(type_b.uniform(a)), a, None, note
    )


def _type_a(
    key: str, name: str, symbol: str, side: _Side, u: float, dof: float | None, note: str
) -> _Component:
    """Type A from a series of observations (JCGM 100 4.2): the mean's u with ν = n − 1."""
    dist: Literal["normal", "t"] = "normal" if dof is None else "t"
    return _Component(key, name, symbol, side, "A", dist, u, None, dof, note)


def _dof_text(dof: float | None) -> str:
    return "∞" if dof is None else f"{dof:g}"


def _components(p: PointInputs) -> list[_Component]:
    """The model's input quantities in budget order: the indication's, then the reference's."""
    rep_dof = float(p.n - 1)
    flux = heat_flux(p)
    k_top = p.layers[0].conductivity_w_mk
    if p.fit_u_c is None:
        fit_u, fit_note = 0.0, "not applicable: as-found point, judged on the unit's own correction"
    else:
        fit_u = p.fit_u_c
        fit_note = f"u of the fitted correction line at this point, ν = {_dof_text(p.fit_dof)}"
    cert_dist: Literal["normal", "t"] = "normal" if p.cert_dof is None else "t"
    return [
        _rectangular(
            "res",
            "unit display resolution",
            "δI_res",
            "I",
            p.resolution_c / 2.0,
            f"resolution {p.resolution_c:g} °C: half-width {p.resolution_c / 2.0:g} °C",
        ),
        _type_a(
            "rep_i",
            "unit repeatability (one indication, paired with the reference)",
            "δI_rep",
            "I",
            p.difference_sd_c * math.sqrt(1.0 + 1.0 / p.n),
            rep_dof,
            f"s(I − R) = {p.difference_sd_c:g} °C over n = {p.n} pairs, u = s·√(1 + 1/n): "
            "one indication's scatter about the mean error, and that mean's",
        ),
        _type_a(
            "fit", "fitted correction line (as-left)", "δI_fit", "I", fit_u, p.fit_dof, fit_note
        ),
        _Component(
            "cal",
            "reference system calibration (thermocouple + logger channel)",
            "C_ref",
            "T",
            "B",
            cert_dist,
            p.cert_expanded_c / p.cert_k,
            None,
            p.cert_dof,
            f"certificate: U = {p.cert_expanded_c:g} °C, k = {p.cert_k:g}, u = U/k, "
            f"ν = {_dof_text(p.cert_dof)}",
        ),
        _rectangular(
            "drift",
            "reference drift since its calibration",
            "δ_drift",
            "T",
            p.drift_c_per_year * p.years_since_cal,
            f"{p.drift_c_per_year:g} °C/year × {p.years_since_cal:.4g} years",
        ),
        _rectangular(
            "cjc",
            "logger reference-junction compensation stability",
            "δ_CJC",
            "T",
            p.cjc_half_width_c,
            "station file",
        ),
        _rectangular(
            "junction",
            "reference junction depth below the surface the unit sees",
            "δ_junction",
            "T",
            junction_half_width_c(p),
            f"|q|·d/k_top: q_upper = {flux.upper_w_m2:.4g}, q_lower = {flux.lower_w_m2:.4g} "
            f"W/m² (larger used), d = {p.junction_depth_mm:g} mm, k_top = {k_top:g} W/m·K",
        ),
        _rectangular(
            "unif",
            "spatial non-uniformity over the spot",
            "δ_unif",
            "T",
            abs(p.reference_c - p.t102_c),
            f"|T101 − T102| = |{p.reference_c:g} − {p.t102_c:g}| °C",
        ),
    ]


def _model(p: PointInputs, comps: list[_Component], unit_u: bool) -> tuple[Any, dict[str, Any]]:
    """E = I − T_s in GTC; ``unit_u`` gives every input u = 1 to read the sensitivities.

    GTC reports a sensitivity of 0 for an input whose u is 0 (it treats it as absent),
    so the partial derivatives are taken from a copy of the model with unit uncertainties,
    as GTC's documentation recommends; the contributions come from the real one.
    """
    from GTC import ureal

    inputs = {
        c.key: ureal(
            0.0,
            1.0 if unit_u else c.u,
            math.inf if c.dof is None else c.dof,
            label=c.symbol,
        )
        for c in comps
    }
    indication = p.indicated_c + sum(inputs[c.key] for c in comps if c.side == "I")
    surface = p.reference_c + sum(inputs[c.key] for c in comps if c.side == "T")
    return indication - surface, inputs


def error_estimate(inputs: PointInputs) -> float:
    """The estimate of E = Ī − R̄ (every correction's estimate is 0)."""
    error, _ = _model(inputs, _components(inputs), unit_u=False)
    return float(error.x)


def point_budget(inputs: PointInputs) -> Budget:
    """The point's budget: one row per input quantity (also those contributing 0),
    u_c, ν_eff (Welch–Satterthwaite, ``None`` if infinite), k for 95 % from Student t, U."""
    from GTC import reporting

    comps = _components(inputs)
    error, q = _model(inputs, comps, unit_u=False)
    probe, q1 = _model(inputs, comps, unit_u=True)
    rows = []
    for c in comps:
        rows.append(
            BudgetRow(
                name=c.name,
                symbol=c.symbol,
                estimate=0.0,
                type=c.type,
                distribution=c.distribution,
                half_width=c.half_width,
                standard_uncertainty=c.u,
                sensitivity=float(reporting.sensitivity(probe, q1[c.key])),
                contribution_c=abs(float(reporting.u_component(error, q[c.key]))),
                dof=c.dof,
                note=c.note,
            )
        )
    u_c = float(error.u)
    nu = float(error.df)
    effective = None if math.isinf(nu) else nu
    k = float(reporting.k_factor(nu, 95))
    return Budget(
        rows=rows,
        combined_standard_uncertainty_c=u_c,
        effective_dof=effective,
        coverage_factor=k,
        coverage_probability=0.95,
        expanded_uncertainty_c=k * u_c,
    )
