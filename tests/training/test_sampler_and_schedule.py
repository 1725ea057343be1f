from __future__ import annotations

import pytest

from training.sampler import EpochSampler
from training.train import poly_lr_factor


def test_epochs_are_deterministic_and_resumable():
    sampler = EpochSampler(23, 4, seed=5)
    sampler.set_position(2, 0)
    full = list(sampler)
    assert len(full) == 20 and len(set(full)) == 20  # 5 whole batches, no repeats
    sampler.set_position(2, 3)
    assert list(sampler) == full[12:] and len(sampler) == 8
    sampler.set_position(3, 0)
    assert list(sampler) != full
    assert list(EpochSampler(23, 4, seed=6)) != list(EpochSampler(23, 4, seed=5))


def test_processes_get_disjoint_equal_shares():
    shares = [list(EpochSampler(21, 2, seed=1, rank=r, world_size=3)) for r in range(3)]
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
