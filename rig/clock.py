"""One clock for the whole rig: wall time in the lab, lockstep virtual time on the sim.

Every wait in the rig goes through :meth:`Clock.sleep` (nothing calls
``time.sleep``), and every wait advances acquisition: callbacks registered with
:meth:`Clock.on_tick` run after each step of at most :attr:`Clock.tick_s`, so
samples keep flowing to disk while a test waits for the phantom to settle or for
a treatment to end. On the simulated bench a step is an ``ADVANCE`` on the
control channel, so a 15-minute plan runs in seconds and is deterministic.

Observers that never talk to an instrument (fault injection on the simulated bench)
use :meth:`Clock.on_advance` instead: they run after every step, also the short
steps a driver takes inside its own transaction, and :meth:`Clock.wake_at` makes a
step end exactly when one of them is due.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

TickHook = Callable[[float], None]


class SimControlLike(Protocol):
    def advance(self, seconds: float) -> float: ...

    def time(self) -> float: ...


class Clock:
    """Base: seconds as float, hooks run after every step of a wait."""

    tick_s: float = 0.1

    def __init__(self) -> None:
        self._hooks: list[TickHook] = []
        self._in_hooks = False
        self._advance_hooks: list[TickHook] = []
        self._wakes: list[float] = []

    # --- to implement ---------------------------------------------------------------------
    def now(self) -> float:
        raise NotImplementedError

    def _step(self, seconds: float) -> None:
        """Let ``seconds`` pass (wall wait, or virtual advance)."""
        raise NotImplementedError

    @property
    def virtual(self) -> bool:
        return False

    def barrier(self) -> None:
        """Let the bench apply what was already sent to it before time moves on.

        Nothing to do in the lab (the world does not wait). On the simulated bench this
        is an ``ADVANCE 0``, which the bench serves after the input it has already
        received: a command written before it takes effect at this instant, not at the
        end of whichever step the bench happened to read it in. That is what keeps a
        lockstep run the same run on a loaded machine.
        """

    # --- shared ---------------------------------------------------------------------------
    def on_tick(self, hook: TickHook) -> Callable[[], None]:
        """Run ``hook(now)`` after every step; returns a function that removes it."""
        self._hooks.append(hook)

        def remove() -> None:
            if hook in self._hooks:
                self._hooks.remove(hook)

        return remove

    def on_advance(self, hook: TickHook) -> Callable[[], None]:
        """Run ``hook(now)`` after every step of time, also inside a driver's transaction
        (``sleep(hooks=False)``); returns a function that removes it.

        For observers that never talk to an instrument (fault injection on the simulated
        bench): they may act in the middle of a conversation, where a tick hook must not.
        """
        self._advance_hooks.append(hook)

        def remove() -> None:
            if hook in self._advance_hooks:
                self._advance_hooks.remove(hook)

        return remove

    def wake_at(self, t: float) -> None:
        """Make a step end exactly at ``t`` (whoever waits across it): an advance hook that
        is due at ``t`` then acts at ``t``, not up to one tick later."""
        if t > self.now():
            self._wakes.append(t)
            self._wakes.sort()

    def _step_limit(self, dt: float) -> float:
        """``dt``, shortened so that the step ends at the next wake time if one falls inside."""
        now = self.now()
        while self._wakes and self._wakes[0] <= now + 1e-9:
            self._wakes.pop(0)
        if self._wakes and self._wakes[0] < now + dt - 1e-9:
            return self._wakes[0] - now
        return dt

    def _advance(self, dt: float) -> None:
        """One step of ``dt`` (at most), then the advance hooks."""
        self._step(dt)
        for hook in list(self._advance_hooks):
            hook(self.now())

    def _run_hooks(self) -> None:
        if self._in_hooks:  # a hook that waits must not re-enter the others
            return
        self._in_hooks = True
        try:
            now = self.now()
            for hook in list(self._hooks):
                hook(now)
        finally:
            self._in_hooks = False

    def sleep(self, seconds: float, *, step_s: float | None = None, hooks: bool = True) -> None:
        """Wait ``seconds`` in steps of at most ``step_s`` (default :attr:`tick_s`).

        ``hooks=False`` is for a driver waiting inside one of its own transactions:
        acquisition must not talk to an instrument that is mid-conversation.
        """
        remaining = float(seconds)
        step = self.tick_s if step_s is None else step_s
        while remaining > 1e-9:
            dt = self._step_limit(min(step, remaining))
            self._advance(dt)
            remaining -= dt
            if hooks:
                self._run_hooks()

    def wait_until(
        self,
        condition: Callable[[], bool],
        timeout_s: float,
        *,
        poll_s: float | None = None,
    ) -> bool:
        """Poll ``condition`` every ``poll_s`` until it holds or ``timeout_s`` passes."""
        deadline = self.now() + timeout_s
        step = self.tick_s if poll_s is None else poll_s
        while True:
            if condition():
                return True
            left = deadline - self.now()
            if left <= 1e-9:
                return False
            self.sleep(min(step, left), step_s=step)


class WallClock(Clock):
    """The lab: monotonic wall time; waits are interruptible (a signal handler can end them)."""

    def __init__(self) -> None:
        super().__init__()
        self._t0 = time.monotonic()
        self._wake = threading.Event()

    def now(self) -> float:
        return time.monotonic() - self._t0

    def _step(self, seconds: float) -> None:
        self._wake.wait(seconds)

    def interrupt(self) -> None:
        self._wake.set()


class LockstepClock(Clock):
    """The simulated bench: virtual time moves only when the rig advances it."""

    def __init__(self, control: SimControlLike) -> None:
        super().__init__()
        self._control = control
        self._now = control.time()

    @property
    def virtual(self) -> bool:
        return True

    def now(self) -> float:
        return self._now

    def _step(self, seconds: float) -> None:
        self._now = self._control.advance(seconds)

    def barrier(self) -> None:
        self._now = self._control.advance(0.0)
