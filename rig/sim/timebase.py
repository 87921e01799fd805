"""Virtual time and the discrete-event scheduler that drives the simulated bench.

Time is kept in integer microseconds so that the same sequence of commands and
``ADVANCE`` steps gives the same schedule, bit for bit, whatever the chunking of
the advances (floating-point sums of ``0.1`` would drift). Everything that
happens on the bench happens inside :meth:`Scheduler.run_until`: physics steps,
firmware control ticks, logger sweeps, replies falling due.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

US_PER_S = 1_000_000


def seconds_to_us(text: str | float | Decimal) -> int:
    """Parse seconds (text as sent on the control channel, or a number) to whole µs.

    Rounds half-even to the microsecond; refuses NaN, infinities and negatives.
    """
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number of seconds: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite number of seconds: {text!r}")
    if value < 0:
        raise ValueError(f"negative time: {text!r}")
    return int((value * US_PER_S).to_integral_value())


def us_to_seconds_text(t_us: int) -> str:
    """Format µs as seconds with six decimals, the control channel's time format."""
    sign = "-" if t_us < 0 else ""
    t_us = abs(t_us)
    return f"{sign}{t_us // US_PER_S}.{t_us % US_PER_S:06d}"


class EventHandle:
    """What :meth:`Scheduler.at` returns; lets the owner cancel a pending event."""

    __slots__ = ("callback", "cancelled", "t_us")

    def __init__(self, t_us: int, callback: Callable[[int], None]) -> None:
        self.t_us = t_us
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """A heap of timed callbacks on one virtual clock.

    Events at the same time run in the order they were scheduled. A callback
    receives the event time and may schedule further events, including at the
    same instant (they run before time moves on).
    """

    def __init__(self) -> None:
        self.now_us = 0
        self._heap: list[tuple[int, int, EventHandle]] = []
        self._seq = itertools.count()
        self._before_event: Callable[[int], None] | None = None
        self._horizon_us = 0

    def set_before_event(self, hook: Callable[[int], None]) -> None:
        """Install a hook run with the event time before every event (physics sync)."""
        self._before_event = hook

    def at(self, t_us: int, callback: Callable[[int], None]) -> EventHandle:
        if t_us < self.now_us:
            t_us = self.now_us
        handle = EventHandle(t_us, callback)
        heapq.heappush(self._heap, (t_us, next(self._seq), handle))
        return handle

    def after(self, delay_us: int, callback: Callable[[int], None]) -> EventHandle:
        return self.at(self.now_us + max(0, delay_us), callback)

    def next_time(self) -> int | None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_until(self, t_end_us: int) -> None:
        """Run every event due at or before ``t_end_us``, then set the clock to it."""
        heap = self._heap
        hook = self._before_event
        self._horizon_us = t_end_us
        while heap:
            t_us, _, handle = heap[0]
            if t_us > t_end_us:
                break
            heapq.heappop(heap)
            if handle.cancelled:
                continue
            self.now_us = t_us
            if hook is not None:
                hook(t_us)
            handle.callback(t_us)
        if t_end_us > self.now_us:
            self.now_us = t_end_us

    def run_inline(self, t_us: int) -> bool:
        """Move the clock to ``t_us`` from inside an event if nothing else comes first.

        An event that would schedule its own continuation at ``t_us`` may instead
        carry on at once when no other event is due at or before ``t_us`` and the
        present ``run_until`` reaches it: exactly what popping that continuation
        would do, without the heap round trip. Returns False (clock unchanged)
        otherwise, and the caller schedules as usual.
        """
        if t_us > self._horizon_us or t_us < self.now_us:
            return False
        nxt = self.next_time()
        if nxt is not None and nxt <= t_us:
            return False
        self.now_us = t_us
        return True

    def pending(self) -> int:
        return sum(1 for _, _, h in self._heap if not h.cancelled)
