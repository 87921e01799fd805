"""Station configuration: what stands on one bench, validated before anything is energized.

A station file (YAML) names the bench's four instruments (logger, supply, TEC
stage, device under test), their calibration certificates, the logger's channel
map with each thermocouple's correction and uncertainty, and the versioned limits
file the run must use. It is the only thing that differs between the simulated
bench and a real laboratory, so it is checked strictly: unknown keys, missing
roles, wrong types, impossible values and a limits file that is not there are all
refused up front, each problem in one message that names the file, the dotted
field path and the value, so a technician can fix the file without reading code.

Calibration is checked separately (:func:`calibration_status`,
:func:`require_calibrated`) because it depends on the day the run starts: an
overdue instrument blocks the run unless QA gives a written override, which is
then carried into the run record as a deviation.

Entry points: :func:`load_station` (a file), :func:`parse_station` (already-parsed
data), :func:`sim_station` (the simulated bench), :func:`station_to_yaml`.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from .shared import yamlsafe

__all__ = [
    "CALIBRATED_ROLES",
    "DUE_SOON_DAYS",
    "Calibration",
    "CalibrationOverdue",
    "CalibrationReport",
    "CalibrationRow",
    "ChannelEntry",
    "DcvChannel",
    "Deviation",
    "DeviceConfig",
    "Instruments",
    "LimitsRef",
    "LoggerConfig",
    "StageConfig",
    "Station",
    "StationError",
    "SupplyConfig",
    "SupplyCorrections",
    "TcChannel",
    "calibration_status",
    "default_limits_file",
    "load_station",
    "parse_station",
    "require_calibrated",
    "sim_station",
    "station_record",
    "station_to_yaml",
]

DUE_SOON_DAYS = 30
"""A calibration due within this many days is flagged DUE_SOON (still usable)."""

CALIBRATED_ROLES = ("logger", "supply", "stage")
"""Instruments that carry a calibration certificate (the device under test does not)."""

REQUIRED_CHANNEL_ROLES = ("ref_surface", "valve_sense")
"""Without these two channels no thermal or safety requirement can be decided."""

SIM_LABORATORY = "cryorig simulated calibration laboratory"


class StationError(ValueError):
    """A station file is unusable; ``problems`` holds one readable message per problem."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class CalibrationOverdue(StationError):
    """An instrument or channel is past its calibration due date and no QA override covers it."""


# --- field types -----------------------------------------------------------------------------
# Strict numbers (no "5.0" strings, no booleans as numbers); dates lax so that both an
# unquoted YAML date and a quoted ISO string are accepted.
NonEmpty = Annotated[str, Field(min_length=1, pattern=r"\S")]
LaxDate = Annotated[_dt.date, Field(strict=False)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
ChannelNumber = Annotated[int, Field(ge=101, le=120)]

_VISA_RE = re.compile(
    r"^(?:TCPIP\d*::[^:\s]+::\d{1,5}::SOCKET"
    r"|TCPIP\d*::[^:\s]+(?:::[^:\s]+)?::INSTR"
    r"|USB\d*::[^\s]+::INSTR"
    r"|GPIB\d*::\d+(?:::\d+)?::INSTR"
    r"|ASRL[^:\s]+::INSTR)$",
    re.IGNORECASE,
)
_SERIAL_PORT_RE = re.compile(r"^(?:/dev/[^\s]+|COM\d+|socket://[^\s:/]+:\d{1,5})$")


def _visa_resource(value: str) -> str:
    if not _VISA_RE.match(value):
        raise ValueError(
            "not a VISA resource string (expected e.g. TCPIP0::192.168.10.21::5025::SOCKET, "
            "TCPIP0::host::INSTR, USB0::…::INSTR, GPIB0::5::INSTR or ASRL…::INSTR)"
        )
    return value


class _Model(BaseModel):
    """Common configuration: no unknown keys anywhere, strict types, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Calibration(_Model):
    """One calibration certificate: who calibrated what, when, and until when it holds."""

    certificate: NonEmpty
    laboratory: NonEmpty
    """The accredited laboratory that issued the certificate (reports quote it)."""
    calibrated: LaxDate
    due: LaxDate

    @field_validator("due")
    @classmethod
    def _due_after_calibrated(cls, due: _dt.date, info: Any) -> _dt.date:
        calibrated = info.data.get("calibrated")
        if calibrated is not None and due < calibrated:
            raise ValueError(f"the due date is before the calibration date {calibrated}")
        return due


class LimitsRef(_Model):
    """The versioned limits file the run must use (path relative to the station file)."""

    file: NonEmpty
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    """MAJOR.MINOR.PATCH as a string (quote it in YAML); the run refuses other versions."""


class _Instrument(_Model):
    resource: str
    model: NonEmpty
    """What the instrument's identity query must report (``*IDN?`` model field)."""
    serial: NonEmpty
    """What the identity query must report as serial: a swapped instrument is refused."""
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    calibration: Calibration

    @field_validator("resource")
    @classmethod
    def _resource(cls, value: str) -> str:
        return _visa_resource(value)


class LoggerConfig(_Instrument):
    """Thermocouple logger (DAQ970A with a DAQM901A in slot 1)."""

    cjc_stability_c: Annotated[float, Field(ge=0, le=2.0)] = 0.05
    """Half-width (°C, rectangular) of how far the reference-junction compensation may
    have moved since the channel's system calibration (the module's specification;
    the calibration's uncertainty budget carries it)."""


class SupplyCorrections(_Model):
    """Read-back corrections from the supply's certificate: corrected = gain × read + offset.

    ``u_*`` are standard uncertainties (k = 1) of the corrected read-back.
    """

    voltage_gain: Annotated[float, Field(gt=0.9, lt=1.1)] = 1.0
    voltage_offset_v: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    u_voltage_v: NonNegative = 0.0
    current_gain: Annotated[float, Field(gt=0.9, lt=1.1)] = 1.0
    current_offset_a: Annotated[float, Field(ge=-0.1, le=0.1)] = 0.0
    u_current_a: NonNegative = 0.0

    def voltage(self, reading_v: float) -> float:
        return self.voltage_gain * reading_v + self.voltage_offset_v

    def current(self, reading_a: float) -> float:
        return self.current_gain * reading_a + self.current_offset_a


class SupplyConfig(_Instrument):
    """Bench supply (E36313A); ``output`` is the one that feeds the unit."""

    output: Annotated[int, Field(ge=1, le=3)] = 2
    corrections: SupplyCorrections = SupplyCorrections()


class StageConfig(_Instrument):
    """TEC controller of the phantom stage (Arroyo TECSource 5300 series)."""


class DeviceConfig(_Model):
    """Service port of the unit under test: a serial device or a ``socket://`` URL."""

    resource: str
    baudrate: Annotated[int, Field(gt=0)] = 115200

    @field_validator("resource")
    @classmethod
    def _resource(cls, value: str) -> str:
        if not _SERIAL_PORT_RE.match(value):
            raise ValueError(
                "not a serial port (expected /dev/ttyUSB0, COM3 or socket://host:port)"
            )
        return value


class Instruments(_Model):
    """The four roles on every bench; all are required."""

    logger: LoggerConfig
    supply: SupplyConfig
    stage: StageConfig
    device: DeviceConfig


class TcChannel(_Model):
    """A type T thermocouple channel: corrected = reading + ``correction_c``.

    ``u_c`` is the standard uncertainty (k = 1) of the corrected reading; ``k`` the
    coverage factor the expanded uncertainty ``U = k·u_c`` is quoted with. A channel
    calibrated as a system with its thermocouple (the reference channel) carries its
    own certificate and, optionally, its drift per year for the uncertainty budget.
    """

    role: Literal["ref_surface", "uniformity", "depth_3mm", "plate", "ambient"]
    kind: Literal["tc_t"]
    correction_c: Annotated[float, Field(ge=-5.0, le=5.0)]
    u_c: NonNegative
    k: Positive = 2.0
    calibration: Calibration | None = None
    drift_c_per_year: NonNegative | None = None

    def correct(self, reading_c: float) -> float:
        return reading_c + self.correction_c

    @property
    def expanded_u_c(self) -> float:
        return self.k * self.u_c


class DcvChannel(_Model):
    """A DC-volts channel; ``threshold_v`` applies to the logger's reading (after the
    divider), ``divider`` converts a reading back to the voltage at the source."""

    role: Literal["valve_sense"]
    kind: Literal["dcv"]
    divider: Positive = 1.0
    threshold_v: Positive

    def source_v(self, reading_v: float) -> float:
        return reading_v * self.divider


ChannelEntry = Annotated[TcChannel | DcvChannel, Field(discriminator="kind")]
_CHANNEL_KINDS = ("tc_t", "dcv")


class PhantomLayer(_Model):
    name: NonEmpty
    thickness_mm: Annotated[float, Field(gt=0, le=100)]
    conductivity_w_mk: Annotated[float, Field(gt=0, le=500)]


class Phantom(_Model):
    """The skin phantom on the stage, as its datasheet gives it: the calibration estimates
    the heat flux through it (from the thermocouples at the surface, at depth and on the
    plate) to bound the difference between the reference junction and the surface."""

    layers: Annotated[list[PhantomLayer], Field(min_length=1)]
    """Top (skin side) first."""
    depth_channel_mm: Annotated[float, Field(gt=0, le=100)] = 3.0
    """Depth of the depth thermocouple (role ``depth_3mm``) below the surface."""
    contact_resistance_m2k_w: Annotated[float, Field(ge=0, le=1)] = 0.0
    """Phantom bottom to plate (thermal paste)."""
    ref_junction_depth_mm: Annotated[float, Field(ge=0, le=1)] = 0.025
    """How far below the surface the reference foil thermocouple's junction sits."""

    @property
    def thickness_mm(self) -> float:
        return sum(layer.thickness_mm for layer in self.layers)


class Person(_Model):
    name: NonEmpty
    role: NonEmpty


class Party(_Model):
    name: NonEmpty
    address: NonEmpty


class Laboratory(_Model):
    """Who issues calibration certificates from this station (ISO/IEC 17025 7.8.2.1)."""

    name: NonEmpty
    address: NonEmpty
    accreditation: str = "not accredited"
    authorised_by: Person
    """The person who authorises certificates issued from this station."""
    customer: Party
    """The customer named on certificates unless a run names another."""
    certificate_prefix: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,15}$")] = "CAL"
    signing_key: str | None = None
    """Ed25519 private key (PEM) that signs certificate manifests, relative to the station
    file; none: manifests are hashed but not signed."""


class Station(_Model):
    """A validated station. Build it with :func:`load_station` / :func:`parse_station`,
    which also run the cross-field checks and resolve the limits file."""

    station: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
    site: NonEmpty
    """Laboratory and location; calibration certificates issued at the bench need it."""
    description: str = ""
    limits: LimitsRef
    instruments: Instruments
    channels: dict[ChannelNumber, ChannelEntry]
    phantom: Phantom | None = None
    """Needed to calibrate the skin sensor (the heat-flux term of the budget)."""
    laboratory: Laboratory | None = None
    """Needed to issue calibration certificates."""

    _source: str = PrivateAttr(default="<station>")
    _limits_path: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        """Where the station came from (file path, or a label), for messages."""
        return self._source

    @property
    def limits_path(self) -> Path:
        """``limits.file`` resolved to an absolute path (relative to the station file)."""
        if self._limits_path is None:
            return Path(self.limits.file).resolve()
        return self._limits_path

    def channel(self, role: str) -> tuple[int, TcChannel | DcvChannel]:
        """The channel with ``role``; KeyError naming the roles present if there is none."""
        for number, entry in sorted(self.channels.items()):
            if entry.role == role:
                return number, entry
        present = ", ".join(e.role for _, e in sorted(self.channels.items()))
        raise KeyError(f"{self.source}: no channel with role {role!r} (roles: {present})")

    def channel_map(self) -> dict[int, TcChannel | DcvChannel]:
        """Channel number → entry, in ascending channel order (the logger's scan order)."""
        return dict(sorted(self.channels.items()))

    def calibrated_items(self) -> list[tuple[str, str, Calibration]]:
        """(item, dotted field of the certificate, calibration) for everything calibrated."""
        items: list[tuple[str, str, Calibration]] = [
            (role, f"instruments.{role}.calibration", getattr(self.instruments, role).calibration)
            for role in CALIBRATED_ROLES
        ]
        for number, entry in sorted(self.channels.items()):
            if isinstance(entry, TcChannel) and entry.calibration is not None:
                items.append(
                    (f"channels.{number}", f"channels.{number}.calibration", entry.calibration)
                )
        return items

    def _problems(self) -> list[tuple[str, Any, str]]:
        """Cross-field checks pydantic cannot express per field: (field, value, message)."""
        problems: list[tuple[str, Any, str]] = []
        seen: dict[str, int] = {}
        for number, entry in sorted(self.channels.items()):
            if entry.role in seen:
                problems.append(
                    (
                        f"channels.{number}.role",
                        entry.role,
                        f"role already given to channel {seen[entry.role]}",
                    )
                )
            else:
                seen[entry.role] = number
        for role in REQUIRED_CHANNEL_ROLES:
            if role not in seen:
                problems.append(
                    (
                        "channels",
                        {n: e.role for n, e in sorted(self.channels.items())},
                        f"required channel role {role!r} is missing",
                    )
                )
        return problems


# --- loading -----------------------------------------------------------------------------------
class _UniqueKeyLoader(yamlsafe.SafeLoader):  # type: ignore[misc,valid-type]
    """Safe YAML that refuses duplicate keys (a second ``101:`` would silently win); on
    libyaml's parser where PyYAML has it (``rig.shared.yamlsafe``), like the plan's files."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first given on line {first + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _show(value: Any) -> str:
    """A value as a person reads it in the YAML (dates ISO, long values shortened)."""
    if isinstance(value, _dt.date):
        text = value.isoformat()
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


_MISSING = object()


def _walk(raw: Any, loc: tuple[Any, ...]) -> tuple[list[str], Any]:
    """Follow a pydantic error location through the raw data: the dotted path as written
    (dropping union tags and key markers) and the value found there (or _MISSING)."""
    parts: list[str] = []
    node: Any = raw
    previous: Any = _MISSING
    for element in loc:
        if element == "[key]":
            return parts, previous
        previous = element
        if isinstance(node, Mapping):
            if element in node:
                node = node[element]
                parts.append(str(element))
                continue
            if isinstance(element, str) and element in _CHANNEL_KINDS:
                continue  # discriminated-union tag, not in the file
            parts.append(str(element))
            node = _MISSING
            continue
        if isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
            node = node[element]
            parts.append(str(element))
            continue
        if isinstance(element, str) and element in _CHANNEL_KINDS:
            continue
        parts.append(str(element))
        node = _MISSING
    return parts, node


def _format_errors(source: str, exc: ValidationError, raw: Any) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        parts, value = _walk(raw, loc)
        msg = err["msg"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            parts.append("kind")
            value = value.get("kind", _MISSING) if isinstance(value, Mapping) else _MISSING
            msg = "kind must be 'tc_t' (type T thermocouple) or 'dcv' (DC volts)"
        elif "[key]" in loc and parts and parts[0] == "channels":
            msg = "channel numbers are integers 101–120 (the multiplexer in slot 1)"
        elif kind == "literal_error" and parts[:1] == ["channels"] and parts[-1:] == ["role"]:
            msg = (
                "not a role of this kind of channel (tc_t: ref_surface, uniformity, "
                "depth_3mm, plate, ambient; dcv: valve_sense)"
            )
        elif kind == "extra_forbidden":
            msg = "unknown key"
        elif kind == "missing":
            msg = "required field is missing"
        elif kind.startswith("value_error"):
            msg = msg.removeprefix("Value error, ")
        elif kind == "string_pattern_mismatch" and parts[-1:] == ["version"]:
            msg = 'a version MAJOR.MINOR.PATCH as a quoted string, e.g. "1.0.0"'
        if kind == "string_type" and isinstance(value, float | int) and parts[-1:] == ["version"]:
            msg += ' (quote it: version: "1.0.0")'
        field_path = ".".join(parts) or "<top level>"
        shown = "<missing>" if value is _MISSING else _show(value)
        problems.append(f"{source}: field '{field_path}' = {shown}: {msg}")
    return problems


def parse_station(
    raw: Any,
    source: str = "<station>",
    *,
    base_dir: Path | None = None,
    check_limits_file: bool = True,
) -> Station:
    """Validate already-parsed station data; ``base_dir`` resolves ``limits.file``.

    Raises :class:`StationError` listing every problem found.
    """
    if not isinstance(raw, Mapping):
        raise StationError(
            f"{source}: field '<top level>' = {_show(raw)}: a station file is a mapping"
        )
    try:
        station = Station.model_validate(raw)
    except ValidationError as exc:
        raise StationError(_format_errors(source, exc, raw)) from None
    problems = [f"{source}: field '{f}' = {_show(v)}: {m}" for f, v, m in station._problems()]
    limits_path = Path(station.limits.file).expanduser()
    if not limits_path.is_absolute():
        limits_path = (base_dir or Path.cwd()) / limits_path
    limits_path = limits_path.resolve()
    if check_limits_file and not limits_path.is_file():
        problems.append(
            f"{source}: field 'limits.file' = {_show(station.limits.file)}: "
            f"no such file ({limits_path})"
        )
    if problems:
        raise StationError(problems)
    station._source = source
    station._limits_path = limits_path
    return station


def load_station(path: str | Path) -> Station:
    """Read and validate a station file; every problem names the file, field and value."""
    p = Path(path)
    source = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise StationError(f"{source}: cannot read station file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise StationError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # safe: a SafeConstructor
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        line = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}, {problem}" if context else problem
        raise StationError(f"{source}{where}: not valid YAML{line}: {detail}") from None
    if raw is None:
        raise StationError(f"{source}: the station file is empty")
    return parse_station(raw, source, base_dir=p.resolve().parent)


def station_to_yaml(station: Station) -> str:
    """The station as YAML that :func:`load_station` reads back to an equal station.

    ``limits.file`` is written as the resolved absolute path, so the copy stays valid
    wherever it is stored (e.g. in a run directory).
    """
    data = station.model_dump(mode="python", exclude_none=True)
    data["limits"]["file"] = str(station.limits_path)
    header = f"# station {station.station}, written by cryorig from {station.source}\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# --- calibration status ------------------------------------------------------------------------
CalStatus = Literal["OK", "DUE_SOON", "OVERDUE", "OVERRIDDEN"]


@dataclass(frozen=True)
class Deviation:
    """A departure from procedure that the run record and the report must carry."""

    item: str
    reason: str
    kind: str = "calibration overdue"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class CalibrationRow:
    """The calibration state of one item on the day of the run."""

    item: str
    field: str
    """Dotted path of the item's due date in the station file."""
    certificate: str
    laboratory: str
    calibrated: _dt.date
    due: _dt.date
    days_left: int
    status: CalStatus
    override: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["calibrated"] = self.calibrated.isoformat()
        d["due"] = self.due.isoformat()
        return d


@dataclass
class CalibrationReport:
    """Calibration status of a station on one day; ``problems`` block the run."""

    station: str
    source: str
    today: _dt.date
    rows: list[CalibrationRow] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    overdue_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.overdue_problems

    def row(self, item: str) -> CalibrationRow:
        for r in self.rows:
            if r.item == item:
                return r
        raise KeyError(item)

    def as_dict(self) -> dict[str, Any]:
        return {
            "station": self.station,
            "today": self.today.isoformat(),
            "rows": [r.as_dict() for r in self.rows],
            "deviations": [d.as_dict() for d in self.deviations],
        }


def calibration_status(
    station: Station, today: _dt.date, overrides: Mapping[str, str] | None = None
) -> CalibrationReport:
    """One row per calibrated item (the three instruments and every channel with its own
    certificate). Never raises: what would block the run is listed in the report
    (``overdue_problems`` for overdue items without override, ``problems`` for misuse of
    overrides or a certificate dated in the future); :func:`require_calibrated` raises."""
    overrides = dict(overrides or {})
    src = station.source
    report = CalibrationReport(station.station, src, today)
    items = station.calibrated_items()
    names = [item for item, _, _ in items]
    for item in overrides:
        if item not in names:
            report.problems.append(
                f"{src}: QA override for {item!r}: no such calibrated item "
                f"(items: {', '.join(names)})"
            )
    for item, path, cal in items:
        days_left = (cal.due - today).days
        reason = overrides.get(item)
        if cal.calibrated > today:
            report.problems.append(
                f"{src}: field '{path}.calibrated' = {cal.calibrated.isoformat()}: calibration "
                f"date is after today ({today.isoformat()}); wrong certificate or wrong clock"
            )
        status: CalStatus
        if days_left < 0:
            if reason is not None and reason.strip():
                status = "OVERRIDDEN"
                report.deviations.append(Deviation(item, reason.strip()))
            else:
                status = "OVERDUE"
                msg = (
                    f"{src}: field '{path}.due' = {cal.due.isoformat()}: {item} calibration "
                    f"(certificate {cal.certificate}) is overdue by {-days_left} day"
                    f"{'s' if days_left != -1 else ''} on {today.isoformat()}; recalibrate, "
                    f"or run under a QA override with a written reason"
                )
                if reason is not None:
                    msg += " (the override given has an empty reason)"
                report.overdue_problems.append(msg)
        else:
            status = "DUE_SOON" if days_left <= DUE_SOON_DAYS else "OK"
            if reason is not None:
                report.problems.append(
                    f"{src}: QA override for {item!r}: its calibration is not overdue "
                    f"(field '{path}.due' = {cal.due.isoformat()}, {days_left} days left); "
                    f"remove the override"
                )
        report.rows.append(
            CalibrationRow(
                item=item,
                field=f"{path}.due",
                certificate=cal.certificate,
                laboratory=cal.laboratory,
                calibrated=cal.calibrated,
                due=cal.due,
                days_left=days_left,
                status=status,
                override=reason.strip() if status == "OVERRIDDEN" and reason else None,
            )
        )
    return report


def require_calibrated(
    station: Station, today: _dt.date, overrides: Mapping[str, str] | None = None
) -> CalibrationReport:
    """Refuse to run on overdue calibration unless QA overrode it with a reason.

    Returns the report (its deviations go into the run record). Raises
    :class:`CalibrationOverdue` for an overdue item without a valid override, and
    :class:`StationError` for an override that is empty, for an item that is not
    overdue, or for an unknown item.
    """
    report = calibration_status(station, today, overrides)
    if report.overdue_problems:
        raise CalibrationOverdue(report.overdue_problems + report.problems)
    if report.problems:
        raise StationError(report.problems)
    return report


def station_record(station: Station, report: CalibrationReport | None = None) -> dict[str, Any]:
    """A JSON-ready summary for the run record: identity, instruments with calibration
    status, channel map and limits reference."""
    rows = {r.item: r.as_dict() for r in report.rows} if report else {}
    instruments: dict[str, Any] = {}
    for role in ("logger", "supply", "stage", "device"):
        cfg = getattr(station.instruments, role)
        entry = cfg.model_dump(mode="json", exclude={"calibration"})
        if role in rows:
            entry["calibration"] = rows[role]
        elif role != "device":
            entry["calibration"] = cfg.calibration.model_dump(mode="json")
        instruments[role] = entry
    channels = {}
    for number, ch in station.channel_map().items():
        entry = ch.model_dump(mode="json", exclude_none=True)
        if f"channels.{number}" in rows:
            entry["calibration"] = rows[f"channels.{number}"]
        channels[str(number)] = entry
    return {
        "station": station.station,
        "site": station.site,
        "source": station.source,
        "limits": {"file": str(station.limits_path), "version": station.limits.version},
        "instruments": instruments,
        "channels": channels,
        "deviations": [d.as_dict() for d in report.deviations] if report else [],
    }


# --- the simulated bench -----------------------------------------------------------------------
def default_limits_file() -> Path:
    """The repository's EOL limits file (``test_plans/limits/eol-limits.yaml``).

    Found without importing ``test_plans`` (its import may have side effects).
    """
    spec = importlib.util.find_spec("test_plans")
    if spec is not None and spec.submodule_search_locations:
        base = Path(next(iter(spec.submodule_search_locations)))
    else:
        base = Path(__file__).resolve().parents[1] / "test_plans"
    return (base / "limits" / "eol-limits.yaml").resolve()


_SIM_ROLES = {
    101: "ref_surface",
    102: "uniformity",
    103: "depth_3mm",
    104: "plate",
    105: "ambient",
}
SIM_REF_U_C = 0.05
"""Reference channel: U = 0.10 °C at k = 2 (system calibration against a reference PRT)."""
SIM_OTHER_U_C = 0.075
"""Other thermocouples: U = 0.15 °C at k = 2."""


def sim_channel_correction_c(channel: int) -> float:
    """The correction that cancels the simulated logger's systematic error on ``channel``.

    The simulated DAQ970A reports ``E⁻¹(E(tj) + E(cjc) − E(block)) + offset[ch]`` where
    the CJC sensor reads the terminal block ``cjc_offset_c`` too warm: a reading is
    ``tj + offset[ch] + cjc_offset_c·S(block)/S(tj)`` with S the type T Seebeck
    coefficient. Over 2–40 °C with the block at 23.2 °C the CJC term is 0.0417–0.0386 °C
    (0.0401 at 22 °C), i.e. ``cjc_offset_c`` within 0.002 °C, so the correction is
    ``−(offset[ch] + cjc_offset_c)``: corrected = reading + correction ≈ tj.
    """
    from rig.sim.bench import DEFAULT_DESIGN

    d = DEFAULT_DESIGN
    return round(-(d.channel_offsets_c[channel] + d.cjc_offset_c), 6)


def _sim_cal(role: str, today: _dt.date) -> dict[str, Any]:
    calibrated = today - _dt.timedelta(days=90)
    return {
        "certificate": f"SIM-CAL-{role.upper()}-{calibrated.year}",
        "laboratory": SIM_LABORATORY,
        "calibrated": calibrated,
        "due": today + _dt.timedelta(days=275),
    }


def _sim_phantom() -> dict[str, Any]:
    """The simulated phantom's datasheet: the layers the simulator is built from."""
    from rig.sim.physics.materials import PHANTOM_LAYERS, STAGE

    return {
        "layers": [
            {
                "name": layer.material.name,
                "thickness_mm": round(layer.thickness_m * 1000.0, 6),
                "conductivity_w_mk": layer.material.conductivity_w_mk,
            }
            for layer in PHANTOM_LAYERS
        ],
        "depth_channel_mm": 3.0,
        "contact_resistance_m2k_w": round(1.0 / STAGE.contact_w_m2k, 9),
        "ref_junction_depth_mm": 0.025,
    }


def _limits_version(path: Path) -> str:
    """The simulated bench runs whatever version the repository's limits file is at
    (a lab station pins the version it was validated with)."""
    try:
        raw = yamlsafe.safe_load(path.read_text(encoding="utf-8"))
        version = raw.get("version") if isinstance(raw, dict) else None
    except (OSError, yaml.YAMLError):
        version = None
    return str(version) if version else "1.0.0"


def sim_station_data(
    resources: Mapping[str, str], today: _dt.date, *, limits_file: str | Path | None = None
) -> dict[str, Any]:
    """The simulated bench's station as plain data (see :func:`sim_station`)."""
    from rig.sim.bench import DEFAULT_DESIGN

    missing = [k for k in ("logger", "supply", "stage", "device_url") if k not in resources]
    if missing:
        raise StationError(
            f"<sim station>: resource line from 'cryorig sim serve' lacks {', '.join(missing)}"
        )
    d = DEFAULT_DESIGN
    channels: dict[int, dict[str, Any]] = {}
    for number, role in _SIM_ROLES.items():
        entry: dict[str, Any] = {
            "role": role,
            "kind": "tc_t",
            "correction_c": sim_channel_correction_c(number),
            "u_c": SIM_REF_U_C if role == "ref_surface" else SIM_OTHER_U_C,
            "k": 2.0,
        }
        if role == "ref_surface":
            entry["calibration"] = _sim_cal(role, today)
            entry["drift_c_per_year"] = 0.02
        channels[number] = entry
    channels[110] = {"role": "valve_sense", "kind": "dcv", "divider": 10.0, "threshold_v": 1.2}
    limits = Path(limits_file) if limits_file is not None else default_limits_file()
    return {
        "station": "SIM-01",
        "site": "simulated bench (cryorig sim serve), no physical location",
        "description": "The simulated end-of-line bench of docs/sim.md; "
        f"control channel {resources.get('control', 'unknown')}.",
        "limits": {"file": str(limits.resolve()), "version": _limits_version(limits)},
        "instruments": {
            "logger": {
                "resource": resources["logger"],
                "model": "DAQ970A",
                "serial": d.logger_serial,
                "timeout_s": 5.0,
                "cjc_stability_c": 0.05,
                "calibration": _sim_cal("logger", today),
            },
            "supply": {
                "resource": resources["supply"],
                "model": "E36313A",
                "serial": d.supply_serial,
                "output": 2,
                "timeout_s": 5.0,
                "calibration": _sim_cal("supply", today),
            },
            "stage": {
                "resource": resources["stage"],
                "model": "5305",
                "serial": d.stage_serial,
                "timeout_s": 5.0,
                "calibration": _sim_cal("stage", today),
            },
            # The pty, like a /dev/ttyUSB0 on a real bench (pyserial's socket:// handler
            # also works, but sleeps 0.3 s in every close()).
            "device": {"resource": resources["device"], "baudrate": 115200},
        },
        "channels": channels,
        "phantom": _sim_phantom(),
        "laboratory": {
            "name": SIM_LABORATORY,
            "address": "simulated bench SIM-01 (cryorig sim serve), no physical address",
            "accreditation": "not accredited (simulated bench: certificates for demonstration)",
            "authorised_by": {"name": "Simulated QA Manager", "role": "Quality assurance"},
            "customer": {
                "name": "cryorig production (simulated)",
                "address": "end-of-line station SIM-01",
            },
            "certificate_prefix": "SIMCAL",
        },
    }


def sim_station(
    resources: Mapping[str, str], today: _dt.date, *, limits_file: str | Path | None = None
) -> Station:
    """The station of the simulated bench whose resource line ``cryorig sim serve`` printed.

    Serials and thermocouple corrections come from :data:`rig.sim.bench.DEFAULT_DESIGN`
    (see :func:`sim_channel_correction_c`); certificates are fresh (calibrated 90 days
    before ``today``, due 275 days after). The limits file is the repository's
    ``test_plans/limits/eol-limits.yaml`` unless ``limits_file`` is given; it need not
    exist yet (the run checks it when it loads the limits).
    """
    data = sim_station_data(resources, today, limits_file=limits_file)
    return parse_station(data, "<sim station>", check_limits_file=False)
