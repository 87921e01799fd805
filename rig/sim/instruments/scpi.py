"""A small, robust SCPI engine shared by the emulated Keysight instruments.

Why an engine of our own: the rig's drivers must be exercised against the same
syntax rules the real instruments apply (short/long mnemonics, optional nodes,
compound headers with the SCPI path rule, one response line per program message,
an error queue the driver is expected to poll), and the emulators must survive
whatever a fuzzer or a broken driver sends, because one exception would take the
whole simulated bench down. Everything that goes wrong ends in the error queue.

Commands are declared from the manual's header notation, one line each::

    Command("[SENSe:]TEMPerature:NPLC", self._set_nplc, Num(0.02, 200, default=1), Chans(101, 120))

Handlers get the converted parameters positionally (``None`` for an omitted
optional one) and return a reply text (queries), ``None`` or a :class:`Wait` whose
``result`` is the reply text once virtual time has reached it. A handler refuses a
command by raising :class:`ScpiError` *before* changing any state.

Choices made where the standards leave room (documented so drivers can rely on them):

* whitespace is IEEE 488.2 <white space> (codes 0-9 and 11-32, so NUL too);
* empty program message units (``;;``, a lone or trailing ``;``) are ignored;
* a header with a character outside ``A-Z a-z 0-9 _ : ? *`` is -101, a malformed
  header (empty node, ``?`` not at the end) -102, an unknown one -113;
* a numeric suffix on a header node is accepted only as ``1`` (the SCPI default),
  any other suffix on a known header is -114;
* after an undefined header the compound-header path is left unchanged;
* an empty parameter (``1,,2``), an unbalanced quote or parenthesis or a
  malformed number is -102; a parameter of the wrong type (a string or channel
  list where a number goes) -104; unknown character data (``TRIG:SOUR FOO``) -224;
  a number outside its range, ``1E999`` or a channel outside the instrument -222;
  an empty channel list where channels are needed -224; a unit suffix where none is
  allowed -131;
* a line longer than 64 KiB is -223 and ignored as a whole;
* an unexpected internal exception is reported as -300 and counted in
  :attr:`ScpiInstrument.internal_errors` (tests assert it stays 0).
"""

from __future__ import annotations

import logging
import math
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from .line import LineInstrument, Wait, finished, then

__all__ = [
    "SCPI_ERRORS",
    "Bool",
    "Chans",
    "Choice",
    "Command",
    "ErrorQueue",
    "LineInstrument",
    "Num",
    "ScpiError",
    "ScpiInstrument",
    "Text",
    "Wait",
    "finished",
    "format_block",
    "then",
]

_log = logging.getLogger(__name__)

MAX_LINE_CHARS = 64 * 1024

SCPI_ERRORS: dict[int, str] = {
    0: "No error",
    -101: "Invalid character",
    -102: "Syntax error",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -131: "Invalid suffix",
    -213: "Init ignored",
    -214: "Trigger deadlock",
    -221: "Settings conflict",
    -222: "Data out of range",
    -223: "Too much data",
    -224: "Illegal parameter value",
    -230: "Data corrupt or stale",
    -300: "Device-specific error",
    -350: "Queue overflow",
}

Reply = str | Wait | None


class ScpiError(Exception):
    """Raised by the parser or a handler; the engine queues it and skips the command."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# --- error queue and status registers ------------------------------------------------


class ErrorQueue:
    """The SCPI error/event queue: FIFO, 20 entries, overflow marks the newest slot.

    As on Keysight instruments, when the queue is full the last entry is replaced by
    -350, so the oldest errors (the likely cause) survive.
    """

    CAPACITY = 20

    def __init__(self) -> None:
        self._q: deque[int] = deque()

    def push(self, code: int) -> None:
        if len(self._q) < self.CAPACITY:
            self._q.append(code)
        else:
            self._q[-1] = -350

    def pop(self) -> int:
        return self._q.popleft() if self._q else 0

    def clear(self) -> None:
        self._q.clear()

    def __len__(self) -> int:
        return len(self._q)

    @staticmethod
    def format(code: int) -> str:
        """Keysight's ``SYSTem:ERRor?`` format: ``-113,"Undefined header"``."""
        return f'{code:+d},"{SCPI_ERRORS.get(code, "Unknown error")}"'


class Esr:
    """Standard Event Status Register bits (IEEE 488.2 §11.5.1)."""

    OPC = 0x01
    QYE = 0x04
    DDE = 0x08
    EXE = 0x10
    CME = 0x20


def _esr_bit(code: int) -> int:
    """Which ESR bit an error sets: command, execution, device or query error."""
    if -199 <= code <= -100:
        return Esr.CME
    if -299 <= code <= -200:
        return Esr.EXE
    if -499 <= code <= -400:
        return Esr.QYE
    return Esr.DDE


@dataclass
class StatusRegisters:
    """ESR with its enable mask, and the service request enable mask."""

    esr: int = 0
    ese: int = 0
    sre: int = 0

    def stb(self, error_queue_nonempty: bool) -> int:
        """Status byte: bit 2 error queue, bit 5 ESB, bit 6 MSS (no MAV: replies go at once)."""
        value = 0x04 if error_queue_nonempty else 0
        if self.esr & self.ese:
            value |= 0x20
        if value & self.sre & ~0x40:
            value |= 0x40
        return value


# --- mnemonics and header patterns ----------------------------------------------------


@dataclass(frozen=True)
class Mnemonic:
    """One node or character-data word, from the manual's spelling (``CONFigure``).

    The short form is the capitals (and digits), the long form the whole word;
    nothing in between is accepted, as SCPI requires.
    """

    long: str
    short: str

    @classmethod
    def parse(cls, spelled: str) -> Mnemonic:
        return cls(spelled.upper(), "".join(c for c in spelled if not c.islower()))

    def matches(self, word_upper: str) -> bool:
        return word_upper == self.short or word_upper == self.long


@dataclass(frozen=True)
class _Node:
    mnemonic: Mnemonic
    optional: bool


def _parse_pattern(header: str) -> tuple[tuple[_Node, ...], bool]:
    """``[SENSe:]TEMPerature:NPLC?`` → nodes with their optional flags, and is-query."""
    query = header.endswith("?")
    nodes: list[_Node] = []
    depth = 0
    word = ""
    for ch in header.rstrip("?") + ":":
        if ch.isalpha():
            word += ch
            continue
        if word:
            nodes.append(_Node(Mnemonic.parse(word), depth > 0))
            word = ""
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
    return tuple(nodes), query


def _match_nodes(nodes: Sequence[_Node], words: Sequence[str]) -> bool:
    """Do the typed words (upper case, suffix removed) match the pattern's nodes?"""
    if not nodes:
        return not words
    head, rest = nodes[0], nodes[1:]
    if words and head.mnemonic.matches(words[0]) and _match_nodes(rest, words[1:]):
        return True
    return head.optional and _match_nodes(rest, words)


# --- parameter tokens ----------------------------------------------------------------


class Kind(Enum):
    NUMBER = "number"
    CHAR = "character data"
    STRING = "string"
    CHANLIST = "channel list"
    BLOCK = "block"


@dataclass(frozen=True)
class Token:
    """One lexed parameter: its kind, raw text, and for numbers the value and suffix."""

    kind: Kind
    text: str
    number: float = 0.0
    suffix: str = ""


_NUMBER = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)[ \t]*([A-Za-z]*)")
_CHARDATA = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_STRING = re.compile(r"\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*'", re.DOTALL)
_CHANLIST = re.compile(r"\(@(.*)\)", re.DOTALL)
_HEADER_CHARS = re.compile(r"[A-Za-z0-9_:?*]*")
_HEADER_NODE = re.compile(r"([A-Za-z_]+)(\d*)")
_COMMON = re.compile(r"\*[A-Za-z]+\??")


def _is_ws(ch: str) -> bool:
    """IEEE 488.2 <white space>: codes 0-9 and 11-32 (LF only ends a message)."""
    return ch <= " " and ch != "\n"


_WS = "".join(chr(c) for c in range(33) if c != 10)


def split_outside(text: str, sep: str, *, parens: bool) -> list[str]:
    """Split on ``sep`` outside quotes (and outside parentheses when ``parens``).

    An unterminated quote swallows the rest, which then fails to lex (-102) in the
    unit it belongs to instead of silently re-splitting the line.
    """
    parts: list[str] = []
    start = 0
    quote = ""
    depth = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif parens and ch == "(":
            depth += 1
        elif parens and ch == ")":
            depth = max(0, depth - 1)
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def lex_parameter(piece: str) -> Token:
    """Classify one comma-separated parameter (already stripped)."""
    if not piece:
        raise ScpiError(-102)
    first = piece[0]
    if first == "(":
        m = _CHANLIST.fullmatch(piece)
        if m is None:
            raise ScpiError(-102)
        return Token(Kind.CHANLIST, m.group(1))
    if first in "\"'":
        if _STRING.fullmatch(piece) is None:
            raise ScpiError(-102)
        return Token(Kind.STRING, piece[1:-1].replace(first * 2, first))
    if first.isascii() and first.isalpha():
        if _CHARDATA.fullmatch(piece) is None:
            raise ScpiError(-101)
        return Token(Kind.CHAR, piece.upper())
    if first in "+-.0123456789":
        m = _NUMBER.fullmatch(piece)
        if m is None:
            raise ScpiError(-102)
        return Token(Kind.NUMBER, piece, float(m.group(1)), m.group(2).upper())
    if first == "#":
        return Token(Kind.BLOCK, piece)
    raise ScpiError(-101)


# --- parameter specifications --------------------------------------------------------


def _keyword(token: Token, *spellings: str) -> bool:
    return any(Mnemonic.parse(s).matches(token.text) for s in spellings)


@dataclass(frozen=True)
class Num:
    """A numeric parameter: NRf with optional unit suffix, or MIN/MAX/DEF[/INF/AUTO].

    ``symbolic`` hands MIN/MAX/DEF to the handler as those strings, unchecked, for
    limits that depend on another parameter (the supply's per-output ranges).
    ``auto`` makes AUTO (and DEF) mean ``None`` (autorange).
    """

    lo: float
    hi: float
    default: float | None = None
    optional: bool = False
    inf: bool = False
    auto: bool = False
    integer: bool = False
    unit: str | None = None
    symbolic: bool = False

    def convert(self, token: Token) -> Any:
        if token.kind is Kind.NUMBER:
            return self._number(token.number * self._scale(token.suffix))
        if token.kind is Kind.CHAR:
            return self._keyword(token)
        raise ScpiError(-104)

    def _scale(self, suffix: str) -> float:
        if not suffix:
            return 1.0
        unit = (self.unit or "").upper()
        scales = {unit: 1.0, "M" + unit: 1e-3, "U" + unit: 1e-6, "K" + unit: 1e3}
        if not unit or suffix not in scales:
            raise ScpiError(-131)
        return scales[suffix]

    def _number(self, value: float) -> Any:
        if self.integer and math.isfinite(value):
            value = round(value)
        if not math.isfinite(value):
            raise ScpiError(-222)
        if not self.symbolic and not self.lo <= value <= self.hi:
            raise ScpiError(-222)
        return int(value) if self.integer else float(value)

    def _keyword(self, token: Token) -> Any:
        if self.auto and _keyword(token, "AUTO", "DEFault"):
            return None
        if self.inf and _keyword(token, "INFinity"):
            return math.inf
        for word, value in (("MINimum", self.lo), ("MAXimum", self.hi), ("DEFault", self.default)):
            if _keyword(token, word):
                if self.symbolic:
                    return word[:3].upper()
                if value is None:
                    raise ScpiError(-224)
                return int(value) if self.integer else value
        raise ScpiError(-224)


@dataclass(frozen=True)
class Bool:
    """ON|OFF|1|0 (any number: non-zero after rounding is ON, as SCPI says)."""

    optional: bool = False

    def convert(self, token: Token) -> bool:
        if token.kind is Kind.CHAR:
            if token.text in ("ON", "OFF"):
                return token.text == "ON"
            raise ScpiError(-224)
        if token.kind is Kind.NUMBER:
            if token.suffix:
                raise ScpiError(-131)
            return not math.isfinite(token.number) or round(token.number) != 0
        raise ScpiError(-104)


@dataclass(frozen=True)
class Choice:
    """Character data from a fixed set; returns the matching spelling's long form."""

    spellings: tuple[str, ...]
    optional: bool = False

    def __init__(self, *spellings: str, optional: bool = False) -> None:
        object.__setattr__(self, "spellings", spellings)
        object.__setattr__(self, "optional", optional)

    def convert(self, token: Token) -> str:
        if token.kind is not Kind.CHAR:
            raise ScpiError(-104)
        for s in self.spellings:
            m = Mnemonic.parse(s)
            if m.matches(token.text):
                return m.long
        raise ScpiError(-224)


@dataclass(frozen=True)
class Text:
    """A quoted string parameter."""

    optional: bool = False

    def convert(self, token: Token) -> str:
        if token.kind is not Kind.STRING:
            raise ScpiError(-104)
        return token.text


_CHAN_ITEM = re.compile(r"(\d{1,9})(?:[ \t]*:[ \t]*(\d{1,9}))?")


@dataclass(frozen=True)
class Chans:
    """A channel list ``(@101:105,110)``, expanded in the order written.

    Only valid as the last parameter of a command: the binder recognises it by its
    type there, which is how SCPI's ``[range,resolution,](@list)`` forms work.
    Endpoints are checked before expansion so a hostile list cannot allocate much.
    """

    lo: int
    hi: int
    optional: bool = False
    allow_empty: bool = False

    def convert(self, token: Token) -> list[int]:
        if token.kind is not Kind.CHANLIST:
            raise ScpiError(-104)
        inner = token.text.strip(_WS)
        if not inner:
            if self.allow_empty:
                return []
            raise ScpiError(-224)
        channels: list[int] = []
        for item in inner.split(","):
            channels.extend(self._item(item.strip(_WS)))
        return channels

    def _item(self, item: str) -> range:
        m = _CHAN_ITEM.fullmatch(item)
        if m is None:
            raise ScpiError(-102)
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else first
        for ch in (first, last):
            if not self.lo <= ch <= self.hi:
                raise ScpiError(-222)
        step = 1 if last >= first else -1
        return range(first, last + step, step)


ParamSpec = Num | Bool | Choice | Text | Chans


def bind_parameters(specs: Sequence[ParamSpec], tokens: list[Token]) -> list[Any]:
    """Convert tokens to handler arguments, positionally, with a trailing channel list.

    A ``Chans`` spec at the end binds to a final channel-list token whatever the
    number of optional parameters before it, so ``CONF:VOLT:DC (@101)`` and
    ``CONF:VOLT:DC 10,DEF,(@101)`` both work.
    """
    leading = list(specs)
    tail = leading.pop() if leading and isinstance(leading[-1], Chans) else None
    tokens = list(tokens)
    tail_value: list[int] | None = None
    if tail is not None:
        if tokens and tokens[-1].kind is Kind.CHANLIST:
            tail_value = tail.convert(tokens.pop())
        elif len(tokens) > len(leading):
            raise ScpiError(-104)  # something else stands where the channel list goes
        elif not tail.optional:
            raise ScpiError(-109)
    if len(tokens) > len(leading):
        raise ScpiError(-108)
    values: list[Any] = []
    for i, spec in enumerate(leading):
        if i < len(tokens):
            values.append(spec.convert(tokens[i]))
        elif spec.optional:
            values.append(None)
        else:
            raise ScpiError(-109)
    if tail is not None:
        values.append(tail_value)
    return values


# --- commands and the tree -----------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One command of the tree: header in the manual's notation, handler, parameters."""

    header: str
    handler: Callable[..., Reply]
    params: tuple[ParamSpec, ...] = ()
    nodes: tuple[_Node, ...] = field(init=False, repr=False)
    query: bool = field(init=False)

    def __init__(self, header: str, handler: Callable[..., Reply], *params: ParamSpec) -> None:
        object.__setattr__(self, "header", header)
        object.__setattr__(self, "handler", handler)
        object.__setattr__(self, "params", params)
        nodes, query = _parse_pattern(header)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "query", query)


class CommandTree:
    """Finds the command for a typed header (a list of node words)."""

    def __init__(self, commands: Sequence[Command]) -> None:
        self._commands = list(commands)
        self._common = {c.header.upper(): c for c in self._commands if c.header.startswith("*")}
        self._found: dict[tuple[tuple[str, ...], bool], Command | None] = {}

    def common(self, header_upper: str) -> Command | None:
        return self._common.get(header_upper)

    def find(self, words: Sequence[str], query: bool) -> Command | None:
        """The command these node words name (first match in declaration order).

        Remembered per (words, query): a client sends the same few headers thousands of
        times a run, and the tree never changes once built. The memo is bounded by the
        headers that can match plus those tried, which a fuzzing client could grow, so
        it is cleared when large."""
        key = (tuple(words), query)
        try:
            return self._found[key]
        except KeyError:
            pass
        found = None
        for cmd in self._commands:
            if cmd.query != query or cmd.header.startswith("*"):
                continue
            required = sum(1 for n in cmd.nodes if not n.optional)
            if required <= len(words) <= len(cmd.nodes) and _match_nodes(cmd.nodes, words):
                found = cmd
                break
        if len(self._found) >= 4096:
            self._found.clear()
        self._found[key] = found
        return found


@dataclass
class _Header:
    """A parsed program header: absolute or not, node words, suffixes, query flag."""

    absolute: bool
    words: list[str]
    suffixes: list[str]
    query: bool


def _parse_header(text: str) -> _Header:
    if _HEADER_CHARS.fullmatch(text) is None:
        raise ScpiError(-101)
    query = text.endswith("?")
    body = text[:-1] if query else text
    if "?" in body or "*" in body:
        raise ScpiError(-102)
    absolute = body.startswith(":")
    if absolute:
        body = body[1:]
    words: list[str] = []
    suffixes: list[str] = []
    for part in body.split(":"):
        if not part:
            raise ScpiError(-102)
        m = _HEADER_NODE.fullmatch(part)
        if m is None:
            raise ScpiError(-113)
        words.append(m.group(1).upper())
        suffixes.append(m.group(2))
    return _Header(absolute, words, suffixes, query)


def format_block(data: str) -> str:
    """IEEE 488.2 definite-length arbitrary block: ``#<n><len><data>`` (``#10`` empty)."""
    length = str(len(data.encode("latin-1", "replace")))
    return f"#{len(length)}{length}{data}" if data else "#10"


def nr1(value: int) -> str:
    """Keysight's signed integer response format (``+12``)."""
    return f"{value:+d}"


def nr3(value: float) -> str:
    """Keysight's floating response format (``+2.29170000E+01``)."""
    return f"{value:+.8E}"


# --- the instrument base class -------------------------------------------------------


class _MessageRun:
    """Executes the units of one program message, suspending on a pending reply.

    The path rule lives here because the path is per message: each new line starts
    at the root. Replies of all queries are joined with ``;`` into one response.
    """

    def __init__(
        self, instrument: ScpiInstrument, units: list[str], respond: Callable[[str], None]
    ) -> None:
        self.instrument = instrument
        self.units = units
        self.respond = respond
        self.path: list[str] = []
        self.replies: list[str] = []
        self.index = 0
        self.wait: Wait | None = None

    def start(self) -> Wait | None:
        self._advance()
        return self.wait

    def _advance(self) -> None:
        while self.index < len(self.units):
            unit = self.units[self.index]
            self.index += 1
            reply = self.instrument._scpi_execute_unit(unit, self)
            if isinstance(reply, Wait):
                if not reply.done:
                    if self.wait is None:
                        self.wait = Wait()
                    reply.add_done_callback(lambda r=reply: self._resume(r))
                    return
                reply = reply.result
            if reply is not None:
                self.replies.append(reply)
        self._finish()

    def _resume(self, pending: Wait) -> None:
        if pending.result is not None:
            self.replies.append(pending.result)
        self._advance()

    def _finish(self) -> None:
        if self.replies:
            self.respond(";".join(self.replies))
        if self.wait is not None:
            self.wait.finish()


class ScpiInstrument:
    """Base of the SCPI emulators: parser, error queue, status, IEEE 488.2 commands.

    Subclasses provide :meth:`commands`, :meth:`reset` (``*RST``) and, if they have
    overlapped operations (a running scan), :meth:`operation_pending`.
    """

    input_terminators: ClassVar[bytes] = b"\n"
    output_terminator: ClassVar[bytes] = b"\n"

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.errors = ErrorQueue()
        self.status = StatusRegisters()
        self.internal_errors = 0
        self._scpi_opc_generation = 0
        self._scpi_tree = CommandTree([*self._scpi_builtin_commands(), *self.commands()])

    # -- to override --------------------------------------------------------------

    def commands(self) -> Sequence[Command]:
        """The instrument's own command table."""
        return ()

    def reset(self) -> None:
        """``*RST``: the instrument's reset state (the error queue is kept, per SCPI)."""

    def operation_pending(self) -> Wait | None:
        """A Wait done when pending overlapped operations complete; None when idle."""
        return None

    # -- the server-facing entry point --------------------------------------------

    def execute(self, line: str, respond: Callable[[str], None]) -> Wait | None:
        """Execute one program message; see :class:`rig.sim.instruments.line.LineInstrument`."""
        try:
            if len(line) > MAX_LINE_CHARS:
                self.error(-223)
                return None
            units = split_outside(line, ";", parens=False)
            return _MessageRun(self, units, respond).start()
        except Exception:  # the bench must survive any input; see module docstring
            self._scpi_internal_error()
            return None

    def error(self, code: int) -> None:
        """Queue an error and set its ESR bit (also usable from scheduler events)."""
        self.errors.push(code)
        self.status.esr |= _esr_bit(code)

    # -- internals ----------------------------------------------------------------

    def _scpi_internal_error(self) -> None:
        _log.exception("internal error in %s", type(self).__name__)
        self.internal_errors += 1
        self.error(-300)

    def _scpi_execute_unit(self, unit: str, run: _MessageRun) -> Reply:
        try:
            return self._scpi_dispatch(unit, run)
        except ScpiError as exc:
            self.error(exc.code)
        except Exception:
            self._scpi_internal_error()
        return None

    def _scpi_dispatch(self, unit: str, run: _MessageRun) -> Reply:
        text = unit.strip(_WS)
        if not text:
            return None
        split = next((i for i, ch in enumerate(text) if _is_ws(ch)), len(text))
        header_text, rest = text[:split], text[split:].strip(_WS)
        cmd = self._scpi_resolve(header_text, run)
        pieces = split_outside(rest, ",", parens=True) if rest else []
        tokens = [lex_parameter(p.strip(_WS)) for p in pieces]
        args = bind_parameters(cmd.params, tokens)
        return cmd.handler(*args)

    def _scpi_resolve(self, header_text: str, run: _MessageRun) -> Command:
        if header_text.startswith("*"):
            if _COMMON.fullmatch(header_text) is None:
                raise ScpiError(-101 if _HEADER_CHARS.fullmatch(header_text) is None else -113)
            cmd = self._scpi_tree.common(header_text.upper())
            if cmd is None:
                raise ScpiError(-113)
            return cmd
        header = _parse_header(header_text)
        prefix = [] if header.absolute else run.path
        words = [*prefix, *header.words]
        cmd = self._scpi_tree.find(words, header.query)
        if cmd is None:
            raise ScpiError(-113)
        if any(s and (len(s) > 9 or int(s) != 1) for s in header.suffixes):
            raise ScpiError(-114)
        run.path = words[:-1]
        return cmd

    # -- IEEE 488.2 common commands and SYSTem -------------------------------------

    def _scpi_builtin_commands(self) -> list[Command]:
        byte = Num(0, 255, integer=True)
        return [
            Command("*IDN?", lambda: self.identity),
            Command("*RST", self._scpi_rst),
            Command("*CLS", self._scpi_cls),
            Command("*OPC", self._scpi_opc),
            Command("*OPC?", self._scpi_opc_query),
            Command("*WAI", self._scpi_wai),
            Command("*ESR?", self._scpi_esr_query),
            Command("*ESE", self._scpi_set_ese, byte),
            Command("*ESE?", lambda: nr1(self.status.ese)),
            Command("*SRE", self._scpi_set_sre, byte),
            Command("*SRE?", lambda: nr1(self.status.sre)),
            Command("*STB?", lambda: nr1(self.status.stb(len(self.errors) > 0))),
            Command("*TST?", lambda: nr1(0)),
            Command("SYSTem:ERRor[:NEXT]?", lambda: ErrorQueue.format(self.errors.pop())),
            Command("SYSTem:ERRor:COUNt?", lambda: nr1(len(self.errors))),
            Command("SYSTem:VERSion?", lambda: "1999.0"),
        ]

    def _scpi_rst(self) -> None:
        self.reset()

    def _scpi_cls(self) -> None:
        self.errors.clear()
        self.status.esr = 0
        self._scpi_opc_generation += 1  # *CLS cancels a pending *OPC

    def _scpi_opc(self) -> None:
        pending = self.operation_pending()
        generation = self._scpi_opc_generation

        def complete() -> None:
            if generation == self._scpi_opc_generation:
                self.status.esr |= Esr.OPC

        if pending is None:
            complete()
        else:
            pending.add_done_callback(complete)

    def _scpi_opc_query(self) -> Reply:
        pending = self.operation_pending()
        return "1" if pending is None else then(pending, lambda _: "1")

    def _scpi_wai(self) -> Reply:
        pending = self.operation_pending()
        return None if pending is None else then(pending, lambda _: None)

    def _scpi_esr_query(self) -> str:
        value, self.status.esr = self.status.esr, 0
        return nr1(value)

    def _scpi_set_ese(self, value: int) -> None:
        self.status.ese = value

    def _scpi_set_sre(self, value: int) -> None:
        self.status.sre = value & ~0x40
