"""Unit profiles: who the simulated unit is and how it is built.

A profile file (``bench.md``, "Profile files") names a serial number, firmware
version and any of the physical parameters below; every parameter it does not
name is drawn from the nominal manufacturing spread with the run's seed, so
``params: {}`` is a nominal unit. Catalog entries also list in ``breaks`` the
requirements a good rig must fail them on.

All parameters are drawn, in a fixed order, before the file's values are
applied, so setting one parameter never changes the draw of another: the same
seed gives the same unit apart from what the file sets.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..shared import yamlsafe
from ..shared.serial_number import SERIAL_PATTERN, SERIAL_RULE, serial_problem

CATALOG_DIR = Path(__file__).with_name("profiles")

NOMINAL_JET_HTC_W_M2K = 82.0
"""Jet heat-transfer coefficient at the spot centre of a nominal unit. Tuned on the
simulated phantom so that a nominal unit takes the spot from 33 °C to 4 °C in about
21 s (``bench.md`` asks for 20–25 s); see ``docs/sim.md`` for the tuning run."""

FaultCode = Literal["F01", "F02", "F03", "F04", "F05", "F06"]


@dataclass(frozen=True, slots=True)
class UnitParams:
    """The physical and firmware parameters of one unit (units in the names)."""

    sensor_gain: float
    sensor_offset_c: float
    sensor_noise_c: float
    sensor_lag_s: float
    valve_open_delay_ms: float
    valve_close_delay_ms: float
    valve_current_a: float
    idle_current_a: float
    jet_htc_w_m2k: float
    jet_temp_c: float
    cutoff_threshold_c: float
    cutoff_rearm_c: float
    control_period_ms: int
    max_open_s: float
    undervoltage_v: float
    selftest_fault: str | None
    nvm_fault: bool
    link_error_rate: float


@dataclass(frozen=True, slots=True)
class Spread:
    """Nominal value, 1 σ manufacturing spread and the physically representable range."""

    nominal: float
    sigma: float
    low: float
    high: float


# The nominal spread of bench.md's table; ``low``/``high`` bound what the physics can
# represent (a profile outside them is rejected, a draw is clipped to them).
SPREADS: dict[str, Spread] = {
    "sensor_gain": Spread(1.000, 0.015, 0.1, 10.0),
    "sensor_offset_c": Spread(0.0, 0.4, -50.0, 50.0),
    "sensor_noise_c": Spread(0.03, 0.0, 0.0, 5.0),
    "sensor_lag_s": Spread(0.15, 0.02, 0.0, 60.0),
    "valve_open_delay_ms": Spread(25.0, 5.0, 0.0, 5000.0),
    "valve_close_delay_ms": Spread(30.0, 6.0, 0.0, 5000.0),
    "valve_current_a": Spread(0.75, 0.05, 0.0, 5.0),
    "idle_current_a": Spread(0.090, 0.010, 0.0, 2.0),
    "jet_htc_w_m2k": Spread(NOMINAL_JET_HTC_W_M2K, 0.05 * NOMINAL_JET_HTC_W_M2K, 0.0, 5000.0),
    "jet_temp_c": Spread(-70.0, 2.0, -80.0, 30.0),
    "cutoff_threshold_c": Spread(2.00, 0.0, -20.0, 30.0),
    "cutoff_rearm_c": Spread(8.00, 0.0, -20.0, 60.0),
    "control_period_ms": Spread(20, 0.0, 1, 1000),
    "max_open_s": Spread(60.0, 0.0, 0.1, 600.0),
    "undervoltage_v": Spread(20.0, 0.0, 0.0, 30.0),
    "link_error_rate": Spread(0.0, 0.0, 0.0, 1.0),
}

_REQ_ID = re.compile(r"^REQ-[A-Z]+-\d{2}$")
_FIRMWARE = re.compile(r"^\d+\.\d+\.\d+$")


class ProfileError(ValueError):
    """A profile that cannot be loaded; the message names file, field and value."""


def _bounded(name: str) -> Any:
    s = SPREADS[name]
    return Field(default=None, ge=s.low, le=s.high)


class ParamsModel(BaseModel):
    """What a profile's ``params`` may set: bench.md's table, nothing else."""

    model_config = ConfigDict(extra="forbid", strict=False)

    sensor_gain: float | None = _bounded("sensor_gain")
    sensor_offset_c: float | None = _bounded("sensor_offset_c")
    sensor_noise_c: float | None = _bounded("sensor_noise_c")
    sensor_lag_s: float | None = _bounded("sensor_lag_s")
    valve_open_delay_ms: float | None = _bounded("valve_open_delay_ms")
    valve_close_delay_ms: float | None = _bounded("valve_close_delay_ms")
    valve_current_a: float | None = _bounded("valve_current_a")
    idle_current_a: float | None = _bounded("idle_current_a")
    jet_htc_w_m2k: float | None = _bounded("jet_htc_w_m2k")
    jet_temp_c: float | None = _bounded("jet_temp_c")
    cutoff_threshold_c: float | None = _bounded("cutoff_threshold_c")
    cutoff_rearm_c: float | None = _bounded("cutoff_rearm_c")
    control_period_ms: int | None = Field(default=None, ge=1, le=1000, strict=True)
    max_open_s: float | None = _bounded("max_open_s")
    undervoltage_v: float | None = _bounded("undervoltage_v")
    selftest_fault: FaultCode | None = None
    nvm_fault: bool | None = Field(default=None, strict=True)
    link_error_rate: float | None = _bounded("link_error_rate")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: Any, info: Any) -> Any:
        # YAML ``true`` must not pass as 1.0 for a numeric parameter.
        if (
            info.field_name == "selftest_fault"
            and isinstance(value, str)
            and value.lower() == "none"
        ):
            return None
        if isinstance(value, bool) and info.field_name != "nvm_fault":
            raise ValueError("a number is required, not a boolean")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("a finite number is required")
        return value


class ProfileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serial: str | None = None
    firmware: str = "2.3.1"
    description: str | None = None
    breaks: list[str] = Field(default_factory=list)
    params: ParamsModel = Field(default_factory=ParamsModel)

    @field_validator("serial")
    @classmethod
    def _serial(cls, v: str | None) -> str | None:
        if v is not None and not SERIAL_PATTERN.fullmatch(v):
            raise ValueError(SERIAL_RULE)
        return v

    @field_validator("firmware")
    @classmethod
    def _firmware(cls, v: str) -> str:
        if not _FIRMWARE.match(v):
            raise ValueError("a version of the form MAJOR.MINOR.PATCH")
        return v

    @field_validator("breaks")
    @classmethod
    def _breaks(cls, v: list[str]) -> list[str]:
        for item in v:
            if not isinstance(item, str) or not _REQ_ID.match(item):
                raise ValueError(f"{item!r} is not a requirement ID like REQ-SAFE-01")
        return v


@dataclass(frozen=True, slots=True)
class UnitProfile:
    """A loaded profile with every parameter resolved for one seed."""

    serial: str
    firmware: str
    params: UnitParams
    breaks: tuple[str, ...] = ()
    description: str | None = None
    source: str = "<nominal>"
    explicit: tuple[str, ...] = ()
    """Names of the parameters the file set (the rest were drawn)."""


DEFAULT_SERIAL = "SIM-0001"


def draw_nominal(seed: int) -> dict[str, Any]:
    """Every parameter drawn from its manufacturing spread, in a fixed order."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x5EED_0F11])))
    values: dict[str, Any] = {}
    for name, s in SPREADS.items():
        z = float(rng.standard_normal())
        value = min(max(s.nominal + s.sigma * z, s.low), s.high)
        values[name] = value
    values["control_period_ms"] = int(values["control_period_ms"])
    values["selftest_fault"] = None
    values["nvm_fault"] = False
    return values


def _format_validation(source: str, exc: ValidationError, raw: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(
                f"{source}: field '{loc}' is not a known parameter (value {err['input']!r})"
            )
        else:
            lines.append(f"{source}: field '{loc}' value {err['input']!r}: {err['msg']}")
    return "\n".join(lines)


def resolve(model: ProfileModel, seed: int, source: str, serial: str | None = None) -> UnitProfile:
    values = draw_nominal(seed)
    explicit = model.params.model_dump(exclude_none=True)
    values.update(explicit)
    params = UnitParams(**{f.name: values[f.name] for f in fields(UnitParams)})
    return UnitProfile(
        serial=serial or model.serial or DEFAULT_SERIAL,
        firmware=model.firmware,
        params=params,
        breaks=tuple(model.breaks),
        description=model.description,
        source=source,
        explicit=tuple(sorted(explicit)),
    )


def parse_profile(text: str, source: str) -> ProfileModel:
    """Validate profile YAML text; every error names the source, the field and the value."""
    try:
        raw = yamlsafe.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ProfileError(f"{source}:{where} is not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ProfileError(f"{source}: a profile is a mapping, got {type(raw).__name__} {raw!r}")
    if raw.get("params") is None and "params" in raw:
        raw["params"] = {}
    try:
        return ProfileModel.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(_format_validation(source, exc, raw)) from exc


def load_profile(path: str | Path | None, seed: int, serial: str | None = None) -> UnitProfile:
    """Load a profile file (or a nominal unit when ``path`` is None) for ``seed``;
    ``serial``, when given, replaces the profile's (and must be a serial number)."""
    if serial is not None and (problem := serial_problem(serial)) is not None:
        raise ProfileError(f"serial number override: {problem}")
    if path is None:
        return resolve(ProfileModel(), seed, "<nominal>", serial)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{p}: cannot read profile: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return resolve(parse_profile(text, str(p)), seed, str(p), serial)


def catalog() -> dict[str, Path]:
    """The catalog's defect profiles by name (file stem)."""
    return {p.stem: p for p in sorted(CATALOG_DIR.glob("*.yaml"))}
