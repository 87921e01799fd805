"""How a driver reaches its instrument: a line-oriented message adapter.

Drivers never touch PyVISA directly; they talk to an :class:`Adapter` (after
PyMeasure's adapters). That keeps every driver testable without sockets (see
:class:`rig.instruments.testing.ProtocolAdapter`) and confines transport
failures to one place, where they become :class:`InstrumentError` with the
instrument's role, resource string, command and cause in the message.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any, Protocol, runtime_checkable

import pyvisa
import pyvisa.errors

from .errors import InstrumentError

# What PyVISA and pyvisa-py raise when a transfer fails: VISA errors (timeout,
# connection lost, invalid session after close), socket errors, undecodable bytes.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    pyvisa.errors.Error,
    OSError,
    UnicodeError,
)


@runtime_checkable
class Adapter(Protocol):
    """A message-based connection: one command line out, one reply line in."""

    resource_name: str
    role: str

    def write(self, command: str) -> None: ...

    def read(self) -> str: ...

    def query(self, command: str) -> str: ...

    def close(self) -> None: ...

    @property
    def timeout_s(self) -> float: ...

    @timeout_s.setter
    def timeout_s(self, value: float) -> None: ...


def _disable_nagle(rm: Any, resource: Any) -> None:
    """Turn Nagle's algorithm off on a raw-socket SCPI session.

    A command followed at once by ``SYST:ERR?`` is two small segments; with Nagle
    on, the second waits for the instrument's delayed ACK, about 40 ms every time
    (measured: 40 ms against 0.3 ms per command-and-check). Keysight recommends it
    off for socket control. pyvisa-py does not expose VI_ATTR_TCPIP_NODELAY for
    SOCKET resources, so the option is set on its socket; backends without one are
    left as they are.
    """
    with contextlib.suppress(Exception):
        sock = rm.visalib.sessions[resource.session].interface
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class VisaAdapter:
    """A PyVISA message-based resource (pyvisa-py's ``@py`` backend unless given an rm).

    Terminations differ per instrument (Keysight ``\\n``, Arroyo CR LF), so they
    are constructor arguments. The I/O timeout is wall-clock, as on a real bench:
    it is what bounds a query to an instrument that stopped answering.
    """

    def __init__(
        self,
        resource_name: str,
        *,
        role: str,
        read_termination: str = "\n",
        write_termination: str = "\n",
        timeout_s: float = 5.0,
        rm: pyvisa.ResourceManager | None = None,
    ) -> None:
        self.resource_name = resource_name
        self.role = role
        self._last_command: str | None = None
        self._resource: Any = None
        self._terminations = (read_termination, write_termination)
        self._timeout_s = timeout_s
        self.failure: str | None = None
        """The last transfer that failed (timeout, connection lost), until one succeeds: the
        session may then hold a late reply to the failed query, so the safe state
        reconnects before it trusts the instrument again (:meth:`reconnect`)."""
        self._interrupted: str | None = None
        """The command whose transfer was cut short (not by the link), until reopened."""
        try:
            self._rm = rm if rm is not None else pyvisa.ResourceManager("@py")
        except (*_TRANSPORT_ERRORS, ValueError) as exc:
            raise InstrumentError.about(role, resource_name, None, f"cannot open: {exc}") from exc
        self._resource = self._open()

    def _open(self) -> Any:
        read_termination, write_termination = self._terminations
        try:
            resource = self._rm.open_resource(
                self.resource_name,
                read_termination=read_termination,
                write_termination=write_termination,
                timeout=round(self._timeout_s * 1000),
            )
        except (*_TRANSPORT_ERRORS, ValueError) as exc:
            raise InstrumentError.about(
                self.role, self.resource_name, None, f"cannot open: {exc}"
            ) from exc
        name = self.resource_name.upper()
        if name.startswith("TCPIP") and name.endswith("SOCKET"):
            _disable_nagle(self._rm, resource)
        return resource

    def reconnect(self) -> None:
        """Close the session and open a fresh one (once; raises InstrumentError if that fails).

        After a dropped connection the old session is dead; after a timeout it may still
        deliver the late reply to the query that timed out, which the next query would
        take for its own. A new session starts clean. The instrument's own state (a
        running scan, an output that is on) is not touched by this.
        """
        self.close()
        self._resource = self._open()
        self.failure = None
        self._interrupted = None

    def _resync(self) -> None:
        """A fresh session after an interrupted transfer (see :meth:`_call`)."""
        command, self._interrupted = self._interrupted, None
        try:
            self.reconnect()
        except InstrumentError as exc:
            self.failure = f"reopening after {command!r} was interrupted: {exc}"
            raise

    # --- the Adapter protocol ---------------------------------------------------------------
    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @timeout_s.setter
    def timeout_s(self, value: float) -> None:
        self._call(
            None, lambda: setattr(self._resource, "timeout", round(value * 1000)), answered=False
        )
        self._timeout_s = value

    def write(self, command: str) -> None:
        self._last_command = command
        self._call(command, lambda: self._resource.write(command), answered=False)

    def read(self) -> str:
        return self._call(self._last_command, lambda: self._resource.read())

    def query(self, command: str) -> str:
        self._last_command = command
        return self._call(command, lambda: self._resource.query(command))

    def close(self) -> None:
        """Close this session; idempotent.

        The resource manager is left open: PyVISA keeps one per backend and
        closing it would close every other instrument's session too.
        """
        resource, self._resource = self._resource, None
        if resource is not None:
            with contextlib.suppress(_TRANSPORT_ERRORS):
                resource.close()

    # --- internals ----------------------------------------------------------------------------
    def _call(self, command: str | None, action: Any, *, answered: bool = True) -> Any:
        """Run one transfer; ``answered``: a reply came back, so the link works again (a
        write alone proves nothing: a stalled instrument accepts every byte).

        A transfer cut short by anything else (Ctrl-C, SIGTERM between the write and the
        read) leaves the session out of step: its reply may still arrive, and the next
        query (the safe state's, the last fetch of samples) would take it for its own.
        The session is then opened afresh before its next transfer."""
        if self._resource is None:
            raise InstrumentError.about(self.role, self.resource_name, command, "session is closed")
        if self._interrupted is not None:
            self._resync()
        try:
            result = action()
        except _TRANSPORT_ERRORS as exc:
            error = InstrumentError.about(self.role, self.resource_name, command, exc)
            if not isinstance(exc, UnicodeError):  # garbled bytes: the session is still in step
                self.failure = str(error)
            raise error from exc
        except BaseException:
            self._interrupted = command
            raise
        if answered:
            self.failure = None
        return result

    def __repr__(self) -> str:
        return f"VisaAdapter({self.resource_name!r}, role={self.role!r})"
