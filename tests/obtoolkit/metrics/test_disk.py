from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from obtoolkit.metrics.disk import disk_offsets, within_radius

RADII = [0.0, 0.5, 1.0, np.sqrt(2.0), 2.0, np.sqrt(5.0), 3.7, 9.6, 9.59999, 19.2]


def _reference(mask, radius):
    """Within radius of a mask pixel by the Euclidean distance transform (what the benchmark used before)."""
    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    return ndimage.distance_transform_edt(~mask) <= radius + 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_within_radius_equals_the_distance_transform(seed):
    rng = np.random.default_rng(seed)
    for k in range(120):
        h, w = rng.integers(1, 70, 2)
        mask = rng.random((h, w)) < rng.choice([0.0, 0.002, 0.02, 0.2, 1.0])
        radius = float(rng.choice(RADII))
        assert np.array_equal(within_radius(mask, radius), _reference(mask, radius)), (seed, k, radius)


def test_within_radius_known_values():
    mask = np.zeros((7, 9), dtype=bool)
    mask[3, 4] = True
    near = within_radius(mask, 1.0)
    assert near.sum() == 5 and near[2, 4] and near[3, 5] and not near[2, 5]  # the 4-neighbourhood
    assert within_radius(mask, np.sqrt(2.0)).sum() == 9
    dy, dx, _ = disk_offsets(9.6)
    big = np.zeros((41, 41), dtype=bool)
    big[20, 20] = True
    assert within_radius(big, 9.6).sum() == len(dy)  # the matching disk itself
    assert not within_radius(np.zeros((3, 3), dtype=bool), 5.0).any()
