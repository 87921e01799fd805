"""One clock for the whole rig: wall time in the lab, lockstep virtual time on the sim.

Every wait in the rig goes through :meth:`Clock.sleep` (nothing calls
``time.sleep``), and every wait advances acquisition: callbacks registered with
:meth:`Clock.on_tick` run after each step of at most :attr:`Clock.tick_s`, so
samples keep flowing to disk while a test waits for the phantom to settle or for
a treatment to end. On the simulated bench a step is an ``ADVANCE`` on the
control channel, so a 15-minute plan runs in seconds and is deterministic.
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

    # --- to implement ---------------------------------------------------------------------
    def now(self) -> float:
        raise NotImplementedError

    def _step(self, seconds: float) -> None:
        """Let ``seconds`` pass (wall wait, or virtual advance)."""
        raise NotImplementedError

    @property
    def virtual(self) -> bool:
        return False

    # --- shared ---------------------------------------------------------------------------
    def on_tick(self, hook: TickHook) -> Callable[[], None]:
        """Run ``hook(now)`` after every step; returns a function that removes it."""
        self._hooks.append(hook)

        def remove() -> None:
            if hook in self._hooks:
                self._hooks.remove(hook)

        return remove

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
            dt = min(step, remaining)
            self._step(dt)
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
