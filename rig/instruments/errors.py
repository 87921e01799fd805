"""The rig's exception hierarchy for everything that talks to hardware.

Test plans distinguish "the unit failed a requirement" (a FAIL verdict) from "the
bench could not measure" (an ERROR verdict). Every problem with an instrument or
the unit's link is therefore an :class:`InstrumentError` (a :class:`RigError`),
and its message names enough to act on without a debugger: which instrument
(its role on the bench and its resource string), which command, and the cause.
"""

from __future__ import annotations


class RigError(Exception):
    """Base of every error the rig raises on purpose."""


class InstrumentError(RigError):
    """An instrument (or the unit's service port) did not do what was asked.

    ``role``, ``resource`` and ``command`` are kept as attributes so a report can
    group problems by instrument; the message already contains them.
    """

    def __init__(
        self,
        message: str,
        *,
        role: str | None = None,
        resource: str | None = None,
        command: str | None = None,
    ) -> None:
        super().__init__(message)
        self.role = role
        self.resource = resource
        self.command = command

    @classmethod
    def about(cls, role: str, resource: str, command: str | None, cause: object) -> InstrumentError:
        """The standard message: ``supply (TCPIP0::…): 'VOLT? (@2)': <cause>``."""
        where = f"{role} ({resource})"
        what = f"{command!r}: " if command is not None else ""
        return cls(f"{where}: {what}{cause}", role=role, resource=resource, command=command)


class IdentityMismatch(InstrumentError):
    """The instrument at a resource is not the one the station file names.

    Raised before anything else is sent to it: testing a unit with the wrong
    logger (or against the wrong unit) would produce a record that looks valid.
    """

    def __init__(self, role: str, resource: str, field: str, expected: str, found: str) -> None:
        super().__init__(
            f"{role} ({resource}): {field} is {found!r}, expected {expected!r}",
            role=role,
            resource=resource,
            command=None,
        )
        self.field = field
        self.expected = expected
        self.found = found


class UnitCommandError(InstrumentError):
    """The unit answered ``ERR <code> <text>`` (it understood the frame and refused)."""

    def __init__(self, code: str, text: str, command: str, *, role: str = "unit") -> None:
        super().__init__(f"{role}: {command!r} refused: {code} {text}", role=role, command=command)
        self.code = code
        self.text = text


class UnitTimeout(InstrumentError):
    """No valid answer from the unit after the allowed retries."""


class UnitProtocolError(InstrumentError):
    """The unit answered with a valid frame whose content does not parse."""

    def __init__(self, command: str, reply: str, why: str, *, role: str = "unit") -> None:
        super().__init__(
            f"{role}: {command!r}: unexpected reply {reply!r} ({why})", role=role, command=command
        )
        self.reply = reply
