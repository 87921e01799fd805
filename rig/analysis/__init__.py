"""Analysis of recorded data: pure functions of arrays, unit-tested on synthetic curves."""
