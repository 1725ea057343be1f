"""Tasks that stop when the run that started them is gone.

A SIGKILL of `obh generate` kills only that process: its loky worker processes and its tasks on a Dask cluster
would go on writing frames for their whole task. Every task therefore runs under a watch:

- in a local worker process (loky), a thread started when the worker starts (`watch_parent`, the executor's
  initializer) notices within `POLL_S` that the run's process has ended (the worker has been re-parented) and ends
  the worker with SIGKILL, busy or idle. Files being written are temporaries (atomic writes), which the next run
  removes; nothing half-written ever carries a final name.
- on a Dask worker (a process shared with other work, maybe on another machine), the task checks before each frame
  that the run still holds the output tree's lock (`obtoolkit.treelock.holder_alive`: a pid check on the run's own
  host, a probe of the lock elsewhere) and raises `RunAbandoned` when it does not: the task stops after the frame
  in progress, and the worker process lives on. (Interrupting the frame itself would need an exception raised
  asynchronously in the worker's thread: tried, it did not always stop the task, since such an exception is lost
  when it lands in a finaliser or a handler that swallows it, and it can land in Dask's own code after the task.)

PR_SET_PDEATHSIG is not used: Linux sends it when the *thread* that started the worker ends, and joblib may start
workers from short-lived threads.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from obtoolkit.treelock import LockHolder, holder_alive

POLL_S = 0.25
T = TypeVar("T")


class RunAbandoned(RuntimeError):
    """The run that started this task is gone (raised between frames, so no frame records it)."""


@dataclass(frozen=True)
class RunWatch:
    """What a task needs to know to watch its run.

    Attributes:
        root: the output tree whose lock the run holds.
        holder: the run's lock record.
        mode: "process" (the task runs in a worker process of the run: end the process) or "task" (a shared Dask
            worker: stop only the task).
    """

    root: Path
    holder: LockHolder
    mode: Literal["process", "task"]


def run_watched(watch: RunWatch, function: Callable[..., T], *args) -> T:
    """Call `function(*args)` in a worker, stopping it as described above if the run ends first.

    In "task" mode `function` also gets `before_frame`, a callable that raises RunAbandoned once the run is gone.
    """
    if watch.mode == "process":
        watch_parent(watch.holder.pid)
        return function(*args)
    return function(*args, before_frame=functools.partial(check_run, watch))


def check_run(watch: RunWatch) -> None:
    """Raise RunAbandoned unless the run of `watch` still holds its tree's lock."""
    if not holder_alive(watch.root, watch.holder):
        raise RunAbandoned(f"{watch.root}: the run that started this task ({watch.holder.describe()}) no longer "
                           "holds the tree; stopping")


_parent_watch: threading.Thread | None = None


def watch_parent(parent_pid: int) -> None:
    """Start (once per worker process) the thread that ends this process when it is no longer the child of
    `parent_pid` (the run's process; passed in, because by the time a worker starts its parent may be gone)."""
    global _parent_watch
    if _parent_watch is None:
        _parent_watch = threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                                         name="obh-parent-watch")
        _parent_watch.start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_S)
    os.kill(os.getpid(), signal.SIGKILL)
