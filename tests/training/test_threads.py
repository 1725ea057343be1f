"""Thread counts that follow the cores other processes leave free."""

from __future__ import annotations

import pytest
import torch

from training.threads import CpuReading, ThreadGovernor, default_threads, read_cpu, usable_cores


class FakeMachine:
    """CPU readings on demand: `others` busy cores and `own` cores of this process over each interval of 1 s."""

    def __init__(self):
        self.at = self.busy = self.own = 0.0
        self.others, self.own_rate = 0.0, 1.0

    def read(self) -> CpuReading:
        self.at += 1.0
        self.busy += self.others + self.own_rate
        self.own += self.own_rate
        return CpuReading(self.busy, self.own, self.at)


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_threads_drop_when_others_take_cores_and_come_back(restore_threads, monkeypatch):
    monkeypatch.setattr("training.threads.usable_cores", lambda: [0, 1, 2, 3])
    machine = FakeMachine()
    governor = ThreadGovernor(4, interval_s=0.0, read=machine.read)
    assert governor.poll() == 4 and torch.get_num_threads() == 4
    machine.others = 1.0  # one busy process
    assert governor.poll() == 3 and torch.get_num_threads() == 3
    machine.others = 2.6
    assert governor.poll() == 1
    machine.others = 9.0  # never below one thread
    assert governor.poll() == 1
    machine.others = 0.2  # background noise below noise_cores keeps every core
    assert governor.poll() == 4 and governor.changes == 3


def test_fixed_threads_without_adaptation(restore_threads):
    machine = FakeMachine()
    governor = ThreadGovernor(2, adapt=False, interval_s=0.0, read=machine.read)
    machine.others = 2.0
    assert governor.poll() == 2 and torch.get_num_threads() == 2 and governor.changes == 0
    with pytest.raises(ValueError, match=">= 1"):
        ThreadGovernor(0)


def test_measurements_wait_for_the_interval(restore_threads, monkeypatch):
    monkeypatch.setattr("training.threads.usable_cores", lambda: [0, 1])
    machine = FakeMachine()
    governor = ThreadGovernor(2, interval_s=3600.0, read=machine.read)
    machine.others = 2.0
    assert governor.poll() == 2 and machine.at == 1.0  # not due: no reading taken


def test_default_threads_follow_omp_or_affinity(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads() == max(1, len(usable_cores()))
    assert default_threads(local_processes=len(usable_cores()) * 2) == 1


def test_real_readings_are_monotone():
    first = read_cpu(usable_cores())
    if first is None:
        pytest.skip("no /proc/stat on this platform")
    sum(i * i for i in range(200_000))  # some work of this process
    second = read_cpu(usable_cores())
    assert second.busy_s >= first.busy_s and second.own_s > first.own_s and second.at_s > first.at_s
