"""Test protocols as versioned data: how the bench runs each step of the plan.

A protocol file (``test_plans/protocols/*.yaml``) holds the conditions and
settings of a step (preconditions, treatment commands, acquisition rates); the
limits it is judged against live in the limits file. Both are validated before
anything is energized, with errors that name the file, the field and the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .shared import yamlsafe

PROTOCOL_DIR = Path(__file__).resolve().parents[1] / "test_plans" / "protocols"


class ProtocolError(ValueError):
    """A protocol file that cannot be used; names file, field and value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanSettings(_Strict):
    channels_tc: list[int] = Field(min_length=1)
    channels_v: list[int] = Field(default_factory=list)
    interval_s: float = Field(gt=0.0009, le=3600)
    nplc: float = Field(default=0.2, gt=0)
    supply_s: float | None = Field(default=None, gt=0, le=60)
    """Supply read-back period during this scan (default: the bench's fast rate)."""


class SupplySettings(_Strict):
    voltage_v: float = Field(ge=0, le=25)
    current_limit_a: float = Field(gt=0, le=2.0)
    ocp: bool = True


class StageSettings(_Strict):
    surface_to_plate_gain: float = Field(gt=0.1, le=1.0)
    ambient_c: float = Field(ge=-10, le=50)
    surface_gain: float = Field(ge=0, le=20)
    slope_gain: float = Field(ge=0, le=60)
    slope_window_s: float = Field(gt=0, le=120)
    control_period_s: float = Field(gt=0, le=60)
    boost_c: float = Field(ge=0, le=30)
    boost_check_s: float = Field(gt=0, le=60)


class Polling(_Strict):
    logger_s: float = Field(gt=0, le=60)
    supply_s: float = Field(gt=0, le=60)
    unit_s: float = Field(gt=0, le=60)


class BenchAcquisition(ScanSettings):
    slow: Polling
    fast: Polling


class BenchProtocol(_Strict):
    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    supply: SupplySettings
    stage: StageSettings
    acquisition: BenchAcquisition
    boot_timeout_s: float = Field(gt=0, le=60)
    idle_current_window_s: float = Field(gt=0, le=60)


class Precondition(_Strict):
    surface_c: float = Field(ge=0, le=50)
    tolerance_c: float = Field(gt=0, le=5)
    stable_slope_c_per_min: float = Field(gt=0)
    stable_window_s: float = Field(gt=0)
    settle_timeout_s: float = Field(gt=0)


class ShockTreatment(_Strict):
    target_c: float = Field(ge=0, le=20)
    max_s: float = Field(ge=1, le=60)
    band_c: float = Field(gt=0)
    rate_from_c: float
    rate_to_c: float
    drop_window_s: float = Field(gt=0)


class TreatmentAcquisition(ScanSettings):
    post_s: float = Field(ge=0, le=600)


class ShockProtocol(_Strict):
    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    requirements: list[str]
    precondition: Precondition
    treatment: ShockTreatment
    acquisition: TreatmentAcquisition


class HoldRun(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    target_c: float = Field(ge=0, le=20)
    hold_s: float = Field(ge=1, le=300)
    band_c: float = Field(gt=0)


class HoldProtocol(_Strict):
    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    requirements: list[str]
    precondition: Precondition
    runs: list[HoldRun] = Field(min_length=1)
    timeout_margin_s: float = Field(gt=0)
    acquisition: TreatmentAcquisition


class CutoffProtocol(_Strict):
    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    requirements: list[str]
    precondition: Precondition
    threshold_c: float
    rearm_c: float
    rearm_probe_c: tuple[float, float]
    """The band just below ``rearm_c`` in which one acknowledgement must be refused."""
    rearm_probe_poll_s: float = Field(gt=0, le=1)
    cool_max_s: float = Field(ge=1, le=300)
    cutoff_timeout_s: float = Field(gt=0)
    rearm_timeout_s: float = Field(gt=0)
    acquisition: TreatmentAcquisition

    @field_validator("rearm_probe_c")
    @classmethod
    def _probe_below_rearm(cls, band: tuple[float, float], info: ValidationInfo) -> Any:
        low, high = band
        threshold, rearm = info.data.get("threshold_c"), info.data.get("rearm_c")
        if threshold is not None and rearm is not None and not threshold < low < high < rearm:
            raise ValueError(
                f"a band from low to high between threshold_c ({threshold}) and rearm_c ({rearm})"
            )
        return band


class FaultsProtocol(_Strict):
    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    requirements: list[str]
    min_surface_c: float
    cool_before_fault_s: float = Field(gt=0, le=30)
    observe_s: float = Field(gt=0, le=30)
    undervoltage_v: float = Field(ge=0, le=25)
    recover_v: float = Field(ge=0, le=25)
    no_reopen_s: float = Field(gt=0, le=60)
    acquisition: ScanSettings


class MaxOpenProtocol(_Strict):
    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    requirements: list[str]
    override_c: float
    cool_max_s: float = Field(ge=1, le=300)
    timeout_s: float = Field(gt=0)
    acquisition: ScanSettings


class CalibrationPlateau(_Strict):
    """When a plateau counts as stable, and what is then read (the unit and the reference)."""

    band_c: float = Field(gt=0, le=5)
    """The reference surface's mean within this of the nominal point."""
    slope_c_per_min: float = Field(gt=0, le=5)
    """|slope| of the reference AND of the unit's raw reading over the stability window."""
    stable_window_s: float = Field(ge=10, le=600)
    settle_timeout_s: float = Field(gt=0, le=7200)
    readings: int = Field(ge=5, le=1000)
    """Paired readings taken once the plateau is stable."""
    reading_interval_s: float = Field(gt=0.05, le=60)
    """Interval of the paired readings (the logger scans the reference at the same rate)."""


class CalibrationProtocol(_Strict):
    """Comparison calibration of the skin sensor against the reference surface thermocouple."""

    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    title: str
    requirements: list[str]
    as_found_order_c: list[float] = Field(min_length=3)
    """The plateaus of the as-found sweep, in the order run (each from 0 to 50 °C)."""
    as_left_order_c: list[float] = Field(min_length=3)
    plateau: CalibrationPlateau
    tolerance_c: float = Field(gt=0, le=5)
    """REQ-SENS-01: the corrected reading within ± this of the reference."""
    gain_range: tuple[float, float]
    """What the unit's calibration memory accepts (``CAL``): outside, not adjustable."""
    offset_range_c: tuple[float, float]
    resolution_c: float = Field(gt=0, le=1)
    """The unit's reading resolution."""
    power_off_s: float = Field(gt=0, le=60)
    boot_timeout_s: float = Field(gt=0, le=60)
    acquisition: ScanSettings
    """The logger's scan while calibrating (all thermocouples, at the reading interval)."""
    fixed_settle_s: float = Field(gt=0, le=7200)
    """A fixed settling wait per plateau, for the comparison with settling detection."""

    @model_validator(mode="after")
    def _points(self) -> CalibrationProtocol:
        for name in ("as_found_order_c", "as_left_order_c"):
            pts = getattr(self, name)
            if any(not 0.0 <= p <= 50.0 for p in pts) or len(set(pts)) != len(pts):
                raise ValueError(f"{name}: distinct points within 0–50 °C, got {pts}")
        if sorted(self.as_found_order_c) != sorted(self.as_left_order_c):
            raise ValueError("as_left_order_c must visit the same points as as_found_order_c")
        return self


MODELS: dict[str, type[BaseModel]] = {
    "bench": BenchProtocol,
    "shock": ShockProtocol,
    "hold": HoldProtocol,
    "cutoff": CutoffProtocol,
    "faults": FaultsProtocol,
    "max_open": MaxOpenProtocol,
    "calibration": CalibrationProtocol,
}


def load_protocol(name: str, directory: Path = PROTOCOL_DIR) -> Any:
    """Load ``<directory>/<name>.yaml`` into its model."""
    path = directory / f"{name}.yaml"
    model = MODELS.get(name)
    if model is None:
        raise ProtocolError(f"{path}: no protocol model named {name!r}")
    try:
        raw = yamlsafe.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read protocol: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{path}: is not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{path}: field '{'.'.join(str(p) for p in e['loc'])}' value {e['input']!r}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ProtocolError("\n".join(problems)) from exc


class Protocols:
    """Lazy access to the plan's protocol files: ``protocols.shock``."""

    def __init__(self, directory: Path = PROTOCOL_DIR) -> None:
        self.directory = directory
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._cache:
            self._cache[name] = load_protocol(name, self.directory)
        return self._cache[name]

    def load_all(self) -> dict[str, Any]:
        """Validate every protocol now (before anything is energized)."""
        return {name: getattr(self, name) for name in MODELS}
