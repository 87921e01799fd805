"""Open a bench instrument and prove it is the one the station file names.

Each helper opens the connection, asks for the identity and compares model and
serial number before returning the driver: a run against the wrong logger, the
wrong supply or the wrong unit must stop before it produces a record. On a
mismatch the connection is closed and :class:`IdentityMismatch` names the role,
the field, the expected and the found value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pyvisa

from rig.clock import Clock

from .adapters import VisaAdapter
from .arroyo5305 import Arroyo5305Stage
from .cryo_unit import CryoUnitPort
from .daq970a import Daq970aLogger
from .e36313a import E36313aOutput
from .errors import IdentityMismatch
from .interfaces import Identity, UnitIdentity

__all__ = ["IdentityMismatch", "open_logger", "open_stage", "open_supply", "open_unit"]

D = TypeVar("D", Daq970aLogger, E36313aOutput, Arroyo5305Stage, CryoUnitPort)


def _verify(
    driver: D,
    identify: Callable[[], Identity | UnitIdentity],
    role: str,
    resource: str,
    expect_model: str | None,
    expect_serial: str | None,
) -> D:
    try:
        ident = identify()
        for field, expected, found in (
            ("model", expect_model, ident.model),
            ("serial", expect_serial, ident.serial),
        ):
            if expected is not None and found != expected:
                raise IdentityMismatch(role, resource, field, expected, found)
    except BaseException:
        driver.close()
        raise
    return driver


def open_logger(
    resource: str,
    *,
    clock: Clock,
    expect_model: str | None = "DAQ970A",
    expect_serial: str | None,
    timeout_s: float = 5.0,
    role: str = "logger",
    rm: pyvisa.ResourceManager | None = None,
) -> Daq970aLogger:
    """The DAQ970A at ``resource`` (e.g. ``TCPIP0::10.0.0.5::5025::SOCKET``)."""
    adapter = VisaAdapter(resource, role=role, timeout_s=timeout_s, rm=rm)
    driver = Daq970aLogger(adapter, role=role, clock=clock)
    return _verify(driver, driver.identify, role, resource, expect_model, expect_serial)


def open_supply(
    resource: str,
    *,
    clock: Clock,
    expect_model: str | None = "E36313A",
    expect_serial: str | None,
    channel: int = 2,
    timeout_s: float = 5.0,
    role: str = "supply",
    rm: pyvisa.ResourceManager | None = None,
) -> E36313aOutput:
    """Output ``channel`` of the E36313A at ``resource``."""
    adapter = VisaAdapter(resource, role=role, timeout_s=timeout_s, rm=rm)
    driver = E36313aOutput(adapter, channel, role, clock=clock)
    return _verify(driver, driver.identify, role, resource, expect_model, expect_serial)


def open_stage(
    resource: str,
    *,
    clock: Clock,
    expect_model: str | None = "5305",
    expect_serial: str | None,
    timeout_s: float = 5.0,
    role: str = "stage",
    rm: pyvisa.ResourceManager | None = None,
) -> Arroyo5305Stage:
    """The Arroyo TECSource at ``resource`` (raw socket, lines end in CR LF)."""
    adapter = VisaAdapter(
        resource,
        role=role,
        read_termination="\r\n",
        write_termination="\r\n",
        timeout_s=timeout_s,
        rm=rm,
    )
    driver = Arroyo5305Stage(adapter, role, clock=clock)
    return _verify(driver, driver.identify, role, resource, expect_model, expect_serial)


def open_unit(
    url: str,
    *,
    clock: Clock,
    expect_serial: str | None,
    expect_model: str | None = "IC-1",
    role: str = "unit",
    first_seq: int | None = None,
) -> CryoUnitPort:
    """The unit on ``url`` (``/dev/ttyUSB0``, a pty path or ``socket://host:port``)."""
    unit = CryoUnitPort.open(url, clock=clock, role=role, first_seq=first_seq)
    return _verify(unit, unit.identify, role, url, expect_model, expect_serial)
