"""The run's book of outcomes: each test's verdict and each requirement's.

A requirement is PASS only when every measurement tied to it passed; FAIL when
any failed; ERROR when any test that verifies it could not decide (an
instrument fault, an aborted run, a test that never reached its end); NOT_RUN
when no test of the run touched it (or the only ones that did were skipped).
The run is FAIL as soon as any requirement FAILED (the unit's fate is decided,
whatever else could not be), else ERROR if anything could not decide, else PASS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, ERROR, NOT_RUN = "PASS", "FAIL", "ERROR", "NOT_RUN"

_RANK = {PASS: 0, NOT_RUN: 0, FAIL: 1, ERROR: 2}

REASON_CHARS = 500
"""Each test's reason in run.json is cut to this (the trace holds it whole)."""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reason_lines(reason: str) -> list[str]:
    """A test's reason as its non-blank lines, stripped: a failure on limits is a line
    announcing them ("outside limits:") and one line per measurement outside them."""
    return [line.strip() for line in reason.splitlines() if line.strip()]


def _headline(reason: str) -> str:
    """A test's reason in one line: its first line, and when that only announces a list
    ("outside limits:"), the list's items after it, so the run's reason names the
    measurements that failed rather than ending at the colon."""
    lines = reason_lines(reason)
    if not lines:
        return ""
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {'; '.join(lines[1:])}"
    return lines[0]


def worst(a: str, b: str) -> str:
    """ERROR outranks FAIL outranks PASS: a run that could not decide is not a pass."""
    return a if _RANK[a] >= _RANK[b] else b


UNFINISHED = "did not finish"
"""The reason of a test that was started and never reported its call (the run was
interrupted inside it): it decided nothing, so it is an ERROR, never a PASS."""


@dataclass
class TestOutcome:
    nodeid: str
    requirements: tuple[str, ...]
    verdict: str | None = None
    """None until the test reports: a test entered in the book is not a pass by default."""
    reason: str | None = None
    measurement_verdicts: dict[str, str] = field(default_factory=dict)
    skipped: bool = False

    @property
    def final(self) -> str:
        """The verdict the run counts: NOT_RUN for a skipped test, ERROR for one that
        never reported (interrupted inside it)."""
        if self.verdict is not None:
            return self.verdict
        return NOT_RUN if self.skipped else ERROR


@dataclass
class RunBook:
    requirements: tuple[str, ...] = ()
    """Every requirement the limits file covers (the ones that can be NOT_RUN)."""
    tests: dict[str, TestOutcome] = field(default_factory=dict)
    aborted: str | None = None

    def test(self, nodeid: str, requirements: tuple[str, ...]) -> TestOutcome:
        out = self.tests.get(nodeid)
        if out is None:
            out = self.tests[nodeid] = TestOutcome(nodeid, requirements)
        return out

    def set_outcome(self, nodeid: str, verdict: str, reason: str | None = None) -> None:
        out = self.tests[nodeid]
        if out.verdict is None:
            out.verdict, out.reason = verdict, reason
        elif worst(out.verdict, verdict) != out.verdict or out.reason is None:
            out.verdict = worst(out.verdict, verdict)
            out.reason = reason or out.reason

    def skip(self, nodeid: str) -> None:
        """The test was skipped: it verified nothing (its requirements stay NOT_RUN)."""
        out = self.tests[nodeid]
        if out.verdict is None:
            out.skipped = True

    def requirement_verdicts(self) -> dict[str, str]:
        result: dict[str, str] = {req: NOT_RUN for req in self.requirements}
        for out in self.tests.values():
            verdict = out.final
            if verdict == NOT_RUN:
                continue
            reqs = set(out.requirements) | set(out.measurement_verdicts)
            for req in reqs:
                v = out.measurement_verdicts.get(req, verdict)
                if verdict == ERROR:
                    v = worst(v, ERROR)
                elif verdict == FAIL and req not in out.measurement_verdicts:
                    v = FAIL
                current = result.get(req, NOT_RUN)
                result[req] = v if current == NOT_RUN else worst(current, v)
        return dict(sorted(result.items()))

    def status(self) -> str:
        if FAIL in self.requirement_verdicts().values():
            return FAIL
        if self.aborted:
            return ERROR
        verdicts = [t.final for t in self.tests.values() if t.final != NOT_RUN]
        if ERROR in verdicts:
            return ERROR
        if FAIL in verdicts:
            return FAIL
        if not verdicts:
            return ERROR
        return PASS

    def failed_requirements(self) -> list[str]:
        return [r for r, v in self.requirement_verdicts().items() if v == FAIL]

    def reason(self) -> str | None:
        """Why the run is not PASS, in words: the abort, then each test that did not pass
        with the first line of its own reason (which names the instrument, the limit …),
        so run.json says what happened without a look into the trace."""
        parts = [self.aborted] if self.aborted else []
        for t in self.tests.values():
            if t.final in (ERROR, FAIL):
                why = _headline(t.reason or ("" if t.verdict else UNFINISHED))
                detail = f" ({_cut(why, REASON_CHARS)})" if why else ""
                parts.append(f"{t.nodeid.split('::')[-1]}: {t.final}{detail}")
        return "; ".join(parts) or None
