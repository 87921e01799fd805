"""Versioned limit files: every limit the rig judges against, tied to a requirement ID.

The numbers are the product's (``shared/specs/device-requirements.md``); the rig
reads them from a versioned YAML file, never from constants in code, so a change
of limits is a reviewed change of one data file, recorded with every run.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .runbook import ERROR, FAIL, NOT_RUN, PASS
from .shared import yamlsafe

__all__ = ["ERROR", "FAIL", "NOT_RUN", "PASS", "Limit", "LimitSet", "LimitsError", "load_limits"]

REQ_PATTERN = re.compile(r"^REQ-[A-Z]+-\d{2}$")


class LimitsError(ValueError):
    """A limits file that cannot be used; the message names file, field and value."""


class LimitModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
    req: str
    description: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    expect: bool | str | None = None
    guard: Literal["none", "expanded_uncertainty"] = "none"
    """``expanded_uncertainty``: guarded acceptance (ILAC-G8:09/2019 §4.2.2, w = U): the
    value passes only if it lies within [low + U, high − U], U being the expanded
    uncertainty recorded with it."""

    @field_validator("req")
    @classmethod
    def _req(cls, v: str) -> str:
        if not REQ_PATTERN.match(v):
            raise ValueError("must be a requirement ID like REQ-COOL-01")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> LimitModel:
        numeric = self.low is not None or self.high is not None
        if numeric == (self.expect is not None):
            raise ValueError("give low and/or high, or expect, not both and not neither")
        if self.guard != "none" and not numeric:
            raise ValueError("a guard band applies to numeric limits (low/high) only")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        for bound in (self.low, self.high):
            if bound is not None and not math.isfinite(bound):
                raise ValueError("limits must be finite numbers")
        return self


class LimitsFileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    product: str
    requirements_source: str
    approved_firmware: list[str] = Field(min_length=1)
    measurements: list[LimitModel] = Field(min_length=1)


@dataclass(frozen=True)
class Limit:
    name: str
    req: str
    description: str
    unit: str
    low: float | None
    high: float | None
    expect: bool | str | None
    guard: str = "none"

    def judge(self, value: Any, uncertainty: float | None = None) -> str:
        """PASS or FAIL for a measured value (bounds inclusive); None/NaN cannot pass.
        A guarded limit needs the value's expanded uncertainty U and shrinks the
        acceptance zone by U at each bound."""
        if self.expect is not None:
            return PASS if value == self.expect else FAIL
        if value is None or isinstance(value, bool):
            return FAIL
        try:
            x = float(value)
        except (TypeError, ValueError):
            return FAIL
        if not math.isfinite(x):  # no close, no value: nothing to guard
            return FAIL
        guard = 0.0
        if self.guard == "expanded_uncertainty":
            if uncertainty is None or not math.isfinite(uncertainty) or uncertainty < 0:
                raise ValueError(
                    f"{self.name}: a guarded limit needs the expanded uncertainty U of the "
                    f"value, got {uncertainty!r}"
                )
            guard = float(uncertainty)
        if self.low is not None and x < self.low + guard:
            return FAIL
        if self.high is not None and x > self.high - guard:
            return FAIL
        return PASS

    def text(self) -> str:
        """The limit as a person reads it: ``≤ 30 s``, ``0.55–1 A``, ``= PASS``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.expect is not None:
            return f"= {self.expect}"
        guarded = ", guard band U" if self.guard != "none" else ""
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g}{unit}{guarded}"
        if self.high is not None:
            return f"≤ {self.high:g}{unit}{guarded}"
        return f"≥ {self.low:g}{unit}{guarded}"


@dataclass(frozen=True)
class LimitSet:
    path: Path
    version: str
    product: str
    requirements_source: str
    approved_firmware: tuple[str, ...]
    limits: dict[str, Limit]
    sha256: str

    def __getitem__(self, name: str) -> Limit:
        try:
            return self.limits[name]
        except KeyError:
            raise LimitsError(
                f"{self.path}: no limit named {name!r} (version {self.version})"
            ) from None

    def requirements(self) -> list[str]:
        return sorted({lim.req for lim in self.limits.values()})


def load_limits(path: str | Path, *, expect_version: str | None = None) -> LimitSet:
    """Load and check a limits file; with ``expect_version`` refuse any other version."""
    p = Path(path)
    try:
        raw_bytes = p.read_bytes()
    except OSError as exc:
        raise LimitsError(f"{p}: cannot read limits file: {exc.strerror or exc}") from exc
    try:
        raw = yamlsafe.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise LimitsError(f"{p}:{where} is not valid YAML: {exc}") from exc
    try:
        model = LimitsFileModel.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _location(raw, err["loc"])
            problems.append(f"{p}: field '{loc}' value {err['input']!r}: {err['msg']}")
        raise LimitsError("\n".join(problems)) from exc
    limits: dict[str, Limit] = {}
    for i, m in enumerate(model.measurements):
        if m.name in limits:
            raise LimitsError(f"{p}: field 'measurements.{i}.name' value {m.name!r}: duplicate")
        limits[m.name] = Limit(
            m.name, m.req, m.description, m.unit, m.low, m.high, m.expect, m.guard
        )
    if expect_version is not None and model.version != expect_version:
        raise LimitsError(
            f"{p}: field 'version' value {model.version!r}: the station requires {expect_version!r}"
        )
    return LimitSet(
        path=p.resolve(),
        version=model.version,
        product=model.product,
        requirements_source=model.requirements_source,
        approved_firmware=tuple(model.approved_firmware),
        limits=limits,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
    )


def _location(raw: Any, loc: tuple) -> str:
    """Dotted path of a pydantic error, naming list items by their ``name`` when they have one."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(node, list) and isinstance(key, int) and key < len(node):
            item = node[key]
            label = item.get("name") if isinstance(item, dict) else None
            parts.append(f"{key}({label})" if label else str(key))
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)
