"""Every bench action is a traced step (after labgrid's ``@step``).

A run's record must show what the rig did to the bench, in order, with timing,
whether or not the action succeeded: that is what makes a FAIL or an ERROR
explainable afterwards. Drivers decorate their public methods with :func:`step`;
anyone (the run journal, a console view, a test) :func:`subscribe`\\ s to the
events::

    {"phase": "start" | "end" | "error", "step": "supply.safe_off",
     "args": {...}, "t_wall": <epoch s>, "depth": <nesting>,
     "duration_s": ...,      # end and error
     "result": "<repr, short>",  # end
     "error": "<Type: message>"} # error

With no subscriber a step costs one list check, so drivers may be called in
tight acquisition loops.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

Event = dict[str, Any]
Subscriber = Callable[[Event], None]

P = ParamSpec("P")
R = TypeVar("R")

_log = logging.getLogger(__name__)
_subscribers: list[Subscriber] = []
_local = threading.local()

RESULT_CHARS = 120


def subscribe(callback: Subscriber) -> Callable[[], None]:
    """Receive every step event; returns a function that unsubscribes."""
    _subscribers.append(callback)
    return lambda: unsubscribe(callback)


def unsubscribe(callback: Subscriber) -> None:
    """Stop receiving events (no error if not subscribed)."""
    if callback in _subscribers:
        _subscribers.remove(callback)


def active() -> bool:
    """Whether anyone listens (drivers use it to skip building arguments)."""
    return bool(_subscribers)


def short(value: Any, limit: int = RESULT_CHARS) -> str:
    """``repr`` cut to ``limit`` characters (a fetched block can be megabytes).

    Long sequences are summarized by their first items and length instead of
    building the whole repr only to cut it.
    """
    if isinstance(value, list | tuple) and len(value) > 4:
        head = ", ".join(repr(v) for v in value[:2])
        text = f"[{head}, … {len(value)} items]"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(value: Any) -> Any:
    """Arguments as JSON-friendly values: primitives kept, anything else as a short repr."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and all(
        v is None or isinstance(v, bool | int | float | str) for v in value
    ):
        return list(value)
    return short(value)


def _emit(event: Event) -> None:
    for callback in list(_subscribers):
        try:
            callback(event)
        except Exception:  # a broken observer must not abort a bench action (or safe_off)
            _log.exception("step subscriber %r failed", callback)


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """No step events inside (routine polls: acquisition records their data instead)."""
    was = getattr(_local, "muted", False)
    _local.muted = True
    try:
        yield
    finally:
        _local.muted = was


def _quiet() -> bool:
    return not _subscribers or getattr(_local, "muted", False)


def _depth() -> int:
    return getattr(_local, "depth", 0)


def run(name: str, args: dict[str, Any], action: Callable[[], R]) -> R:
    """Run ``action`` as the step ``name`` (for steps that are not methods: properties)."""
    if _quiet():
        return action()
    depth = _depth()
    plain = {k: _plain(v) for k, v in args.items()}
    _emit({"phase": "start", "step": name, "args": plain, "t_wall": time.time(), "depth": depth})
    t0 = time.perf_counter()
    _local.depth = depth + 1
    try:
        result = action()
    except BaseException as exc:
        _local.depth = depth
        _emit(
            {
                "phase": "error",
                "step": name,
                "args": plain,
                "t_wall": time.time(),
                "depth": depth,
                "duration_s": time.perf_counter() - t0,
                "error": f"{type(exc).__name__}: {exc}",
            }
        )
        raise
    _local.depth = depth
    _emit(
        {
            "phase": "end",
            "step": name,
            "args": plain,
            "t_wall": time.time(),
            "depth": depth,
            "duration_s": time.perf_counter() - t0,
            "result": short(result),
        }
    )
    return result


def role_of(obj: Any) -> str:
    """The name a step is filed under: the driver's bench role, else its class."""
    return getattr(obj, "role", None) or type(obj).__name__


def step(fn: Callable[P, R]) -> Callable[P, R]:
    """Trace a driver method as the step ``<role>.<method>`` with its bound arguments."""
    signature = inspect.signature(fn)
    method = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _quiet():
            return fn(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        named = dict(bound.arguments)
        owner = named.pop("self", None)
        return run(f"{role_of(owner)}.{method}", named, lambda: fn(*args, **kwargs))

    return wrapper
