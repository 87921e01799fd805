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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    initial_offset_c: float = Field(ge=-10, le=10)
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
    cool_max_s: float = Field(ge=1, le=300)
    cutoff_timeout_s: float = Field(gt=0)
    rearm_timeout_s: float = Field(gt=0)
    acquisition: TreatmentAcquisition


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


class CalibrationMemoryProtocol(_Strict):
    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    requirements: list[str]
    power_off_s: float = Field(gt=0, le=60)
    boot_timeout_s: float = Field(gt=0, le=60)


MODELS: dict[str, type[BaseModel]] = {
    "bench": BenchProtocol,
    "shock": ShockProtocol,
    "hold": HoldProtocol,
    "cutoff": CutoffProtocol,
    "faults": FaultsProtocol,
    "max_open": MaxOpenProtocol,
    "calibration_memory": CalibrationMemoryProtocol,
}


def load_protocol(name: str, directory: Path = PROTOCOL_DIR) -> Any:
    """Load ``<directory>/<name>.yaml`` into its model."""
    path = directory / f"{name}.yaml"
    model = MODELS.get(name)
    if model is None:
        raise ProtocolError(f"{path}: no protocol model named {name!r}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
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
