from __future__ import annotations

from itertools import islice

import pytest

from training.build import poly_lr_factor
from training.data import SampleKey
from training.sampler import EpochSampler


def take(sampler: EpochSampler, count: int) -> list[SampleKey]:
    return list(islice(iter(sampler), count))


def test_epochs_are_deterministic_resumable_and_endless():
    sampler = EpochSampler(23, 4, seed=5)
    sampler.set_position(2, 0)
    run = take(sampler, 60)  # three epochs of 5 whole batches
    epoch2 = [k.position for k in run[:20]]
    assert len(set(epoch2)) == 20 and [k.epoch for k in run] == [2] * 20 + [3] * 20 + [4] * 20
    assert epoch2 == sampler.epoch_positions(2) and [k.position for k in run[20:40]] == sampler.epoch_positions(3)
    sampler.set_position(2, 3)  # resume 3 batches into epoch 2: the same keys from there on
    assert take(sampler, 48) == run[12:]
    assert sampler.epoch_positions(3) != epoch2
    assert EpochSampler(23, 4, seed=6).epoch_positions(0) != EpochSampler(23, 4, seed=5).epoch_positions(0)


def test_processes_get_disjoint_equal_shares():
    shares = [EpochSampler(21, 2, seed=1, rank=r, world_size=3).epoch_positions(0) for r in range(3)]
    assert all(len(s) == len(shares[0]) == 6 for s in shares)
    assert not set(shares[0]) & set(shares[1]) and not set(shares[1]) & set(shares[2])
    with pytest.raises(ValueError, match="cannot fill"):
        EpochSampler(3, 2, world_size=2)


def test_polynomial_decay():
    assert poly_lr_factor(0, 100, 0.9, 0.1) == pytest.approx(1.0)
    assert poly_lr_factor(100, 100, 0.9, 0.1) == pytest.approx(0.1)
    assert poly_lr_factor(500, 100, 0.9, 0.1) == pytest.approx(0.1)
    assert poly_lr_factor(50, 100, 1.0, 0.0) == pytest.approx(0.5)
    # the paper recipe stops at 50,000 of 68,840 scheduled steps: lr is still ~0.37 x lr0 (1.1e-5 for 3e-5)
    assert poly_lr_factor(50_000, 68_840, 0.9, 0.1) * 3e-5 == pytest.approx(1.1e-5, rel=0.05)
