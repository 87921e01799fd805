"""The calibration record: what one calibration of a unit's skin sensor found and decided.

The procedure (:mod:`calibration.procedure`) writes one ``calibration.json`` into the
run's directory when it ends (and a partial one as each phase completes, so an
aborted calibration leaves its as-found data behind). Certificates
(:mod:`reports.certificate`) are rendered from this record and the run's own files,
never from the live bench: data flows records → analysis → decisions → reports.

Sign conventions, used everywhere in the suite and stated on the certificate:

* ``error_c = indicated_c - reference_c``: what the unit reads minus the
  conventional true value of the surface it sees (the corrected reference).
* The adjustment fits ``reference = gain × raw + offset_c`` (the unit's own
  correction, service-port ``CAL``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetRow(_Model):
    """One line of a GUM uncertainty budget (JCGM 100 §5, §G)."""

    name: str
    """What the component is, in words a metrologist reads (e.g. 'reference system calibration')."""
    symbol: str
    """Its symbol in the measurement model (e.g. ``δt_cal``)."""
    estimate: float
    """The input quantity's estimate (a correction is usually 0)."""
    unit: str = "°C"
    type: Literal["A", "B"]
    distribution: Literal["normal", "rectangular", "triangular", "t", "u-shaped"]
    half_width: float | None = None
    """For rectangular/triangular/u-shaped: the half-width a the standard uncertainty comes from."""
    standard_uncertainty: float
    """u(x_i) in ``unit``."""
    sensitivity: float
    """c_i = ∂y/∂x_i."""
    contribution_c: float
    """|c_i| · u(x_i), in °C."""
    dof: float | None
    """ν_i; ``None`` means infinite."""
    note: str = ""
    """Where the number comes from (certificate, window statistics, spec sheet)."""


class Budget(_Model):
    """The combined and expanded uncertainty of one point's error."""

    rows: list[BudgetRow]
    combined_standard_uncertainty_c: float
    effective_dof: float | None
    """Welch–Satterthwaite ν_eff; ``None`` means infinite."""
    coverage_factor: float
    coverage_probability: float = 0.95
    expanded_uncertainty_c: float


class Decision(_Model):
    """Conformity of one point with its tolerance under the stated decision rule."""

    tolerance_c: float
    """Tolerance half-width (REQ-SENS-01: 0.5 °C)."""
    guard_band_c: float
    acceptance_limit_c: float
    """|error| must not exceed this for a PASS (tolerance − guard band)."""
    result: Literal["PASS", "FAIL"]
    probability_false_accept: float
    """JCGM 106 §9: the probability that the true error lies outside the tolerance given
    the measured error and its uncertainty (specific risk), for an accepted point; for a
    rejected point the probability of false rejection is given in ``probability_false_reject``."""
    probability_false_reject: float
    test_uncertainty_ratio: float
    """Tolerance half-width over U (ILAC-G8 / ANSI Z540.3 style TUR)."""
    tur_below_4: bool


class PointWindow(_Model):
    """The paired readings of one plateau, summarised (the samples are in the run's streams)."""

    t_start_s: float
    t_end_s: float
    n: int
    reference_c: float
    """Mean of channel 101 over the window, corrected by its certificate."""
    reference_sd_c: float
    indicated_c: float
    """Mean of the unit's indication over the window (TEMP? corrected reading)."""
    indicated_sd_c: float
    difference_sd_c: float | None = None
    """Sample standard deviation of the paired differences Iᵢ − Rᵢ (unit reading minus the
    reference's scan paired with it): the unit's repeatability in the budget (δI_rep).
    Absent (None) only in records of schema 1.0, which predate it."""
    raw_c: float
    """Mean of the unit's uncorrected reading (RAW?) over the window."""
    raw_sd_c: float
    uniformity_c: float
    """Mean of channel 102 (10 mm off the spot), corrected."""
    depth_c: float
    """Mean of channel 103 (3 mm deep), corrected."""
    plate_c: float
    """Mean of channel 104 (stage plate), corrected."""
    ambient_c: float
    """Mean of channel 105 (air), corrected."""
    settle_s: float
    """How long the plateau took to settle (virtual seconds)."""


class CalPoint(_Model):
    """One calibration point of one phase."""

    phase: Literal["as_found", "as_left"]
    nominal_c: float
    window: PointWindow
    error_c: float
    """indicated − reference."""
    budget: Budget
    decision: Decision


class Coefficients(_Model):
    gain: float
    offset_c: float
    date: str
    cert_id: str


class Fit(_Model):
    """Least-squares line reference = gain × raw + offset_c and its statistics."""

    gain: float
    offset_c: float
    u_gain: float
    u_offset_c: float
    correlation: float
    residual_sd_c: float
    dof: int
    n: int
    weighted: bool


class MemoryCheck(_Model):
    """REQ-CAL-01: written, read back, and read back again after a power cycle and REBOOT."""

    written: Coefficients
    read_back: Coefficients | None
    after_power_cycle: Coefficients | None
    after_reboot: Coefficients | None
    result: Literal["PASS", "FAIL", "ERROR", "NOT_RUN"]
    reason: str = ""


class ReferenceInstrument(_Model):
    """One link of the traceability chain, as the station file gives it."""

    role: str
    description: str
    model: str
    serial: str
    certificate: str
    laboratory: str
    calibrated: str
    due: str
    uncertainty: str = ""
    """As the certificate states it (e.g. 'U = 0.10 °C, k = 2')."""


class CalibrationRecord(_Model):
    """Everything a certificate states, computed during the run and frozen here."""

    schema_version: str = SCHEMA_VERSION
    certificate_id: str
    replaces: str | None = None
    unit_serial: str
    unit_identity: dict[str, str]
    """maker, model, serial, firmware as ``ID?`` answered."""
    unit_condition: str
    method: dict[str, str]
    """id, title, version, summary."""
    run_id: str
    station: str
    operator: str
    laboratory: dict[str, str]
    """name, address, accreditation (as the station file's ``laboratory`` block gives them)."""
    customer: dict[str, str]
    """name, address."""
    authorised_by: dict[str, str]
    """name, role: who authorises the certificate's issue."""
    received: str
    calibrated: str
    """ISO date(s) of the calibration (start of the run)."""
    references: list[ReferenceInstrument]
    environment: dict[str, float | str]
    """ambient_mean_c, ambient_min_c, ambient_max_c, humidity ('not measured' on this bench)."""
    order_c: list[float]
    """The plateaus in the order they were run."""
    as_found_coefficients: Coefficients
    fit: Fit | None = None
    adjustable: bool = True
    adjustment_reason: str = ""
    points: list[CalPoint] = Field(default_factory=list)
    memory: MemoryCheck | None = None
    decision_rule: dict[str, str] = Field(default_factory=dict)
    """name, statement, reference."""
    requirements: dict[str, Literal["PASS", "FAIL", "ERROR", "NOT_RUN"]] = Field(
        default_factory=dict
    )
    deviations: list[str] = Field(default_factory=list)
    virtual_duration_s: float = 0.0
    complete: bool = False
    """False while the calibration is under way or if it was aborted."""

    def phase(self, name: Literal["as_found", "as_left"]) -> list[CalPoint]:
        return [p for p in self.points if p.phase == name]
