"""A spawned pool worker ends when the process that started it is killed (rig.shared.parent_watch).

Without the watch, the worker waits for its next job for ever: the test shows that too,
so that it would notice if the mechanism it guards stopped being needed or working.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import psutil
import pytest

from rig.shared.parent_watch import exit_with_parent

pytestmark = pytest.mark.timeout(180)


def _pid() -> int:
    return os.getpid()


def _parent(pid_file: str, watch: bool) -> None:
    """Start one pool worker, say its pid, then wait to be killed."""
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=get_context("spawn"),
        initializer=exit_with_parent if watch else None,
    )
    Path(pid_file).write_text(str(pool.submit(_pid).result()))
    threading.Event().wait(120)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _worker_of_killed_parent(tmp_path: Path, watch: bool) -> int:
    pid_file = tmp_path / "worker.pid"
    parent = get_context("spawn").Process(target=_parent, args=(str(pid_file), watch))
    parent.start()
    deadline = time.monotonic() + 90
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the pool worker never started"
        time.sleep(0.05)
    worker = int(pid_file.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.join(10)
    return worker


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_watched_worker_ends_with_its_killed_parent(tmp_path: Path) -> None:
    worker = _worker_of_killed_parent(tmp_path, watch=True)
    assert _gone_within(worker, 10)


def test_an_unwatched_worker_outlives_its_killed_parent(tmp_path: Path) -> None:
    worker = _worker_of_killed_parent(tmp_path, watch=False)
    try:
        assert not _gone_within(worker, 3), "orphaned pool workers end by themselves now"
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_no_parent_to_watch_in_the_main_process() -> None:
    assert exit_with_parent() is False


def _sigint_then_answer() -> str:
    os.kill(os.getpid(), signal.SIGINT)  # what a terminal's Ctrl-C does to the group
    time.sleep(0.2)
    return "still here"


def test_a_watched_worker_leaves_ctrl_c_to_its_parent() -> None:
    """A station's report worker took the group's Ctrl-C itself: it died mid-job with a
    traceback on the operator's terminal while the station was still closing the run."""
    with ProcessPoolExecutor(
        max_workers=1, mp_context=get_context("spawn"), initializer=exit_with_parent
    ) as pool:
        job = pool.submit(_sigint_then_answer)
        try:
            answer = job.result(timeout=60)
        except KeyboardInterrupt:  # the worker's, sent back as the job's outcome
            answer = "interrupted"
    assert answer == "still here"
