"""Intra-op threads that degrade gracefully on a shared machine.

torch's CPU kernels split work across OpenMP threads that wait for each other at the end of every parallel region.
When another busy process takes one of the cores, the thread that loses its core holds all the others up at every
region, and a step takes 20-30x longer (measured: docs/benchmarks.md). `ThreadGovernor` measures how many of this
process's cores other processes keep busy (/proc/stat against this process's own CPU time) and runs torch on the
rest, going back up when they are free again.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


def usable_cores() -> list[int]:
    """The CPUs this process may run on (`os.sched_getaffinity`; every CPU where the platform cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def default_threads(local_processes: int = 1) -> int:
    """OMP_NUM_THREADS when set, else this process's share of its usable cores among `local_processes`."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, len(usable_cores()) // max(local_processes, 1))


@dataclass(frozen=True)
class CpuReading:
    """busy_s: CPU seconds spent busy on the watched CPUs since boot; own_s: this process's CPU seconds; at_s: when."""

    busy_s: float
    own_s: float
    at_s: float


def read_cpu(cpus: list[int]) -> CpuReading | None:
    """Busy time of `cpus` from /proc/stat (None where there is no /proc/stat)."""
    try:
        with open("/proc/stat") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    wanted = {f"cpu{c}" for c in cpus}
    ticks = 0
    for line in lines:
        fields = line.split()
        if fields and fields[0] in wanted:  # user nice system idle iowait irq softirq steal ...
            values = [int(v) for v in fields[1:9]]
            ticks += sum(values) - values[3] - values[4]
    return CpuReading(ticks / os.sysconf("SC_CLK_TCK"), time.process_time(), time.monotonic())


class ThreadGovernor:
    """Keeps torch's intra-op threads at the cores that other processes leave free, between 1 and `max_threads`
    (itself at most the usable cores).

    `poll()` is cheap (a clock read) except every `interval_s`, when it reads the CPU counters; with `adapt` False
    the count stays at `max_threads`. Call it from the thread that runs torch (OpenMP settings are per thread).
    """

    def __init__(self, max_threads: int, *, adapt: bool = True, interval_s: float = 1.0,
                 read: Callable[[], CpuReading | None] | None = None, noise_cores: float = 0.25):
        if max_threads < 1:
            raise ValueError(f"threads must be >= 1, got {max_threads}")
        cpus = usable_cores()
        self.cores, self.max_threads, self.adapt = len(cpus), min(max_threads, len(cpus)), adapt
        self.interval_s, self.noise_cores = interval_s, noise_cores
        self._read = read or (lambda: read_cpu(cpus))
        self.threads = self.max_threads
        torch.set_num_threads(self.threads)
        self._last = self._read() if adapt else None
        self._due_s = time.monotonic() + interval_s
        self.changes = 0

    def others_busy(self, before: CpuReading, after: CpuReading) -> float:
        """Cores kept busy by other processes between two readings (this process's threads excluded)."""
        wall = after.at_s - before.at_s
        if wall <= 0:
            return 0.0
        return max(0.0, (after.busy_s - before.busy_s) - (after.own_s - before.own_s)) / wall

    def poll(self) -> int:
        """Adjust the thread count when a measurement is due; returns the count in use."""
        if self._last is None or time.monotonic() < self._due_s:
            return self.threads
        self._due_s = time.monotonic() + self.interval_s
        reading = self._read()
        if reading is None:
            self._last = None
            return self.threads
        taken = max(0, math.ceil(self.others_busy(self._last, reading) - self.noise_cores))
        self._last = reading
        wanted = min(self.max_threads, max(1, self.cores - taken))
        if wanted != self.threads:
            torch.set_num_threads(wanted)
            self.threads, self.changes = wanted, self.changes + 1
        return self.threads
