"""Tasks that stop when the run that started them is gone.

A SIGKILL of `obh generate` kills only that process: its loky worker processes and its tasks on a Dask cluster
would go on writing frames for their whole task. Every task therefore runs under a watch:

- in a local worker process (loky), a thread started when the worker starts (`watch_parent`, the executor's
  initializer) notices within `POLL_S` that the run's process has ended (the worker has been re-parented) and ends
  the worker with SIGKILL, busy or idle. Files being written are temporaries (atomic writes), which the next run
  removes; nothing half-written ever carries a final name.
- on a Dask worker (a process shared with other work, maybe on another machine), a thread checks that the run still
  holds the output tree's lock (`obtoolkit.treelock.holder_alive`) and, when it does not, raises `RunAbandoned` in
  the task's thread; the task stops at the next Python instruction of its frame (a long native call such as a mesh
  ray cast finishes first), and the worker process lives on.

PR_SET_PDEATHSIG is not used: Linux sends it when the *thread* that started the worker ends, and joblib may start
workers from short-lived threads.
"""

from __future__ import annotations

import ctypes
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


class RunAbandoned(BaseException):
    """The run that started this task is gone. A BaseException, so that per-frame `except Exception` handlers do
    not record it as the frame's error."""


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
    """Call `function(*args)` in a worker, stopping it as described above if the run ends first."""
    if watch.mode == "process":
        watch_parent(watch.holder.pid)
        return function(*args)
    stop, lock = threading.Event(), threading.Lock()
    thread = threading.Thread(target=_watch_run, args=(watch, threading.get_ident(), stop, lock), daemon=True,
                              name="obh-run-watch")
    thread.start()
    try:
        return function(*args)
    finally:
        with lock:  # an exception raised by the watch is delivered before this function returns, never after
            stop.set()


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


def _watch_run(watch: RunWatch, thread_id: int, stop: threading.Event, lock: threading.Lock) -> None:
    while not stop.wait(POLL_S):
        if not holder_alive(watch.root, watch.holder):
            with lock:
                if not stop.is_set():
                    _raise_in_thread(thread_id, RunAbandoned)
            return


def _raise_in_thread(thread_id: int, exception: type[BaseException]) -> None:
    """Raise `exception` in another thread of this process at its next Python instruction."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exception))
