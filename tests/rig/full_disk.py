"""A pytest plugin for tests only: the disk fills up as ``test_shock`` starts.

Loaded into a plan run with ``-p tests.rig.full_disk``. From the shock's first trace
event on, every fsync fails with ENOSPC (as on a full disk, where the data written
since the last one cannot be made durable) and every sample block is fsynced at once:
the next logger block, trace fsync, measurement or run.json rewrite fails.
"""

from __future__ import annotations

import errno
import os

from rig import recording

_trace = recording.RunRecorder.trace
_fsync = os.fsync


def _no_space(fd: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def trace(self, event):  # type: ignore[no-untyped-def]
    if event.get("kind") == "test_start" and "test_shock" in str(event.get("test")):
        recording.SAMPLE_FSYNC_INTERVAL_S = 0.0
        recording.TRACE_FSYNC_INTERVAL_S = 0.0
        os.fsync = _no_space  # for the whole (plan) process: only the record fsyncs
    return _trace(self, event)


recording.RunRecorder.trace = trace  # type: ignore[method-assign]
