"""Deterministic random streams for the simulated bench.

Each source of randomness (a thermocouple channel, the skin sensor, the link)
draws from its own stream, spawned from the run's seed by name. The draws of
one source therefore never shift when another source is sampled more or less
often, and the same seed reproduces a run byte for byte.
"""

from __future__ import annotations

import hashlib

import numpy as np

_BLOCK = 4096


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


class RandomStream:
    """Standard-normal and uniform draws for one named source, served from blocks."""

    __slots__ = ("_gauss", "_gi", "_rng", "_ui", "_uni")

    def __init__(self, seed: int, name: str) -> None:
        self._rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([seed, _name_key(name)]))
        )
        self._gauss = self._rng.standard_normal(_BLOCK).tolist()
        self._gi = 0
        self._uni = self._rng.random(_BLOCK).tolist()
        self._ui = 0

    def normal(self, sigma: float = 1.0) -> float:
        i = self._gi
        if i == _BLOCK:
            self._gauss = self._rng.standard_normal(_BLOCK).tolist()
            i = 0
        self._gi = i + 1
        return self._gauss[i] * sigma

    def uniform(self) -> float:
        i = self._ui
        if i == _BLOCK:
            self._uni = self._rng.random(_BLOCK).tolist()
            i = 0
        self._ui = i + 1
        return self._uni[i]

    def integers(self, low: int, high: int) -> int:
        """A uniformly drawn integer in ``[low, high)``."""
        return low + min(high - low - 1, int(self.uniform() * (high - low)))


class NoiseBank:
    """Hands out one :class:`RandomStream` per source name, all from one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, RandomStream] = {}

    def stream(self, name: str) -> RandomStream:
        s = self._streams.get(name)
        if s is None:
            s = self._streams[name] = RandomStream(self.seed, name)
        return s
