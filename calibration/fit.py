"""The unit's skin-sensor correction: the least-squares line ``reference = gain × raw + offset``.

The adjustment step of a calibration fits this line to the plateaus' paired means
(the unit's raw reading against the corrected reference) and writes ``gain`` and
``offset_c`` into the unit. The as-left budget then needs the standard uncertainty of
the fitted line at each point, with its degrees of freedom, which :meth:`LineFit.predict`
and :attr:`LineFit.u_dof` give.

The arithmetic is GTC's (:func:`GTC.type_a.line_fit` for ordinary least squares,
:func:`GTC.type_a.line_fit_wls` for weighted), i.e. the textbook closed forms, centred
on the (weighted) mean indication for numerical stability; the tests check them
against a small example worked by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calibration.record import Fit

__all__ = ["LineFit", "fit_line", "t_interval"]


@dataclass(frozen=True)
class LineFit:
    """A fitted correction line and its statistics.

    ``dof`` is the residual degrees of freedom ``n − 2`` of either fit (the record's
    ``Fit.dof``, and the ν of the chi-square test of a weighted fit). The degrees of
    freedom of the *uncertainties* ``u_gain``, ``u_offset_c`` and ``predict``'s ``u_c``
    is :attr:`u_dof`: ``n − 2`` for ordinary least squares, whose uncertainties come
    from the residual scatter, infinite for a weighted fit, whose uncertainties come
    from the stated ``u_reference`` taken as known.
    """

    gain: float
    offset_c: float
    u_gain: float
    u_offset_c: float
    correlation: float
    """Correlation coefficient r(gain, offset_c)."""
    residual_sd_c: float
    """sqrt(Σ r_i² / (n − 2)) of the unweighted residuals r_i = reference − line, in °C."""
    dof: int
    n: int
    weighted: bool
    chi2: float | None = None
    """Weighted fit only: the observed chi-square Σ (r_i/u_i)², with ``dof`` degrees of freedom."""

    @property
    def covariance(self) -> float:
        """cov(gain, offset_c)."""
        return self.correlation * self.u_gain * self.u_offset_c

    @property
    def u_dof(self) -> float:
        """Degrees of freedom of the fit's uncertainties (``math.inf`` for a weighted fit)."""
        return math.inf if self.weighted else float(self.dof)

    @property
    def reduced_chi2(self) -> float | None:
        """chi2 / dof (the square of the Birge ratio); ``None`` for an unweighted fit."""
        return None if self.chi2 is None else self.chi2 / self.dof

    @property
    def chi2_p_value(self) -> float | None:
        """Pr(χ²_dof ≥ chi2): below 0.05 the stated u_reference do not explain the scatter."""
        return None if self.chi2 is None else _chi2_sf(self.chi2, self.dof)

    def predict(self, x: float) -> tuple[float, float]:
        """The corrected value at indication ``x`` and the standard uncertainty of the line there.

        ``u_c = sqrt(u_offset² + x² u_gain² + 2 x cov(gain, offset))``: the uncertainty of
        the fitted line only (what the correction contributes), not of a new reading.
        """
        x = float(x)
        var = self.u_offset_c**2 + x * x * self.u_gain**2 + 2.0 * x * self.covariance
        # Rounding can leave a var of order -1e-18 at the centroid of an exact fit.
        return self.gain * x + self.offset_c, math.sqrt(max(var, 0.0))

    def to_record(self) -> Fit:
        return Fit(
            gain=self.gain,
            offset_c=self.offset_c,
            u_gain=self.u_gain,
            u_offset_c=self.u_offset_c,
            correlation=self.correlation,
            residual_sd_c=self.residual_sd_c,
            dof=self.dof,
            n=self.n,
            weighted=self.weighted,
        )


def _column(name: str, values: Sequence[float]) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: not a sequence of numbers ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence, got shape {arr.shape}")
    for i, v in enumerate(arr.tolist()):
        if not math.isfinite(v):
            raise ValueError(f"{name}[{i}] = {v!r}: not a finite number")
    return arr


def fit_line(
    indicated: Sequence[float],
    reference: Sequence[float],
    u_reference: Sequence[float] | None = None,
) -> LineFit:
    """Fit ``reference = gain × indicated + offset_c`` by least squares.

    Without ``u_reference``: ordinary least squares, covariance ``s² (XᵀX)⁻¹`` with
    ``s² = Σ r_i² / (n − 2)``, dof ``n − 2`` (GUM type A from the residual scatter).

    With ``u_reference`` (per-point standard uncertainties of ``reference``, in °C):
    weighted least squares with weights ``1/u_i²`` and covariance ``(XᵀWX)⁻¹``, i.e. the
    stated uncertainties are taken as known, as ISO/TS 28037 does for a fit with given
    uncertainties, and the uncertainties have infinite degrees of freedom. The
    covariance is **never** rescaled by the Birge ratio: the observed ``chi2`` (with
    ``dof = n − 2``), ``reduced_chi2`` and ``chi2_p_value`` are reported instead, and a
    p-value below 0.05 means the stated u's (or the straight-line model) do not explain
    the scatter, which the caller must act on (the CLI warns). Why not scale when the
    Birge ratio exceeds 1: inflating only upwards is biased high for a fit whose u's are
    right (it fires in ~40 % of such fits with 4 dof), and it quietly absorbs a
    non-linear unit or an unsettled plateau into a larger uncertainty instead of
    exposing it.

    Raises ``ValueError`` naming the argument (and the index) for fewer than 3 points,
    sequences of different lengths, a non-finite value, all indications equal, or a
    non-positive ``u_reference``.
    """
    x = _column("indicated", indicated)
    y = _column("reference", reference)
    n = len(x)
    if n < 3:
        raise ValueError(f"indicated: {n} point(s); a line with residual dof needs at least 3")
    if len(y) != n:
        raise ValueError(f"reference: {len(y)} values for {n} indications")
    if np.all(x == x[0]):
        raise ValueError(
            f"indicated: all {n} values equal ({float(x[0])!r}); the gain is undetermined"
        )
    u = None
    if u_reference is not None:
        u = _column("u_reference", u_reference)
        if len(u) != n:
            raise ValueError(f"u_reference: {len(u)} values for {n} indications")
        for i, v in enumerate(u.tolist()):
            if v <= 0.0:
                raise ValueError(f"u_reference[{i}] = {v!r}: a standard uncertainty must be > 0")

    xs, ys = x.tolist(), y.tolist()
    from GTC import get_correlation, type_a, uncertainty, value  # 0.9 s: when first fitted

    result = type_a.line_fit(xs, ys) if u is None else type_a.line_fit_wls(xs, ys, u.tolist())
    a, b = result.a_b  # intercept, slope
    gain, offset = value(b), value(a)
    dof = n - 2
    residuals = y - (gain * x + offset)
    residual_sd = math.sqrt(math.fsum(residuals * residuals) / dof)
    return LineFit(
        gain=gain,
        offset_c=offset,
        u_gain=uncertainty(b),
        u_offset_c=uncertainty(a),
        correlation=float(get_correlation(a, b)),
        residual_sd_c=residual_sd,
        dof=dof,
        n=n,
        weighted=u is not None,
        chi2=None if u is None else float(result.ssr),
    )


def t_interval(u: float, dof: float | None, p: float = 0.95) -> tuple[float, float]:
    """Coverage factor ``k`` and expanded uncertainty ``k·u`` for coverage probability ``p``.

    ``k`` is the two-sided Student-t quantile ``t_{(1+p)/2, dof}`` (GUM G.3); ``dof``
    ``None`` or infinite gives the normal quantile (1.96 for 95 %).
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p = {p!r}: a coverage probability lies strictly between 0 and 1")
    if not (math.isfinite(u) and u >= 0.0):
        raise ValueError(f"u = {u!r}: a standard uncertainty must be finite and >= 0")
    from scipy import special

    q = (1.0 + p) / 2.0
    if dof is None or math.isinf(dof):
        k = float(special.ndtri(q))
    elif dof > 0.0:
        k = float(special.stdtrit(dof, q))
    else:
        raise ValueError(f"dof = {dof!r}: degrees of freedom must be > 0")
    return k, k * u


def _chi2_sf(chi2: float, dof: int) -> float:
    """Pr(χ²_dof ≥ chi2), from scipy.special (scipy.stats costs a second to import)."""
    from scipy import special

    return float(special.chdtrc(dof, chi2))
