"""Spawned workers that end when the process that started them ends.

A ``ProcessPoolExecutor`` worker waits for its next job on a queue whose writing end it
holds itself (the queue is pickled to it whole), so when its parent is killed it never
sees the end of the queue and waits for ever: an orphan per killed station process or
certificate worker, measured on this machine after ``tests/rig/test_publish.py`` killed a
certificate worker (its annex worker was still there an hour later). The simulated
bench watches its parent for the same reason (``cryorig sim serve --parent-pid``).

:func:`exit_with_parent` is for a worker's ``initializer``: a daemon thread waits on the
parent's sentinel (``multiprocessing.parent_process()``, readable when the parent is gone),
then ends this process. The worker also leaves SIGINT to its parent.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import wait

ORPHAN_EXIT_STATUS = 70
"""Exit status of a worker that ended because its parent had (EX_SOFTWARE)."""


def exit_with_parent(*, graceful: bool = False, grace_s: float = 30.0) -> bool:
    """End this spawned process when its parent ends. Returns False where there is no
    parent to watch (not a multiprocessing child).

    ``graceful``: first send this process SIGTERM, which a run in progress turns into an
    ERROR with the bench made safe (rig.plugin), and end it only if it is still there
    ``grace_s`` seconds later; otherwise end at once (a document worker: nobody is left
    to take what it would make).
    """
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return False
    # Ctrl-C at a terminal reaches the whole process group. The parent decides what
    # becomes of its workers (a station's process still wants its report made, a fleet
    # study stops its units with SIGTERM); a worker that took the interrupt itself would
    # die mid-job with a traceback on the operator's terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        if graceful:
            os.kill(os.getpid(), signal.SIGTERM)
            threading.Event().wait(grace_s)
        os._exit(ORPHAN_EXIT_STATUS)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
    return True
