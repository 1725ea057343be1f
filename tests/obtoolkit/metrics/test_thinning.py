from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import thin as skimage_thin

from obtoolkit.metrics.thinning import guo_hall_luts, thin


def test_luts_match_scikit_image_tables():
    from skimage.morphology import _skeletonize

    first, second = guo_hall_luts()
    assert np.array_equal(first, _skeletonize.G123_LUT)
    assert np.array_equal(second, _skeletonize.G123P_LUT)


@pytest.mark.parametrize("seed", range(4))
def test_bit_identical_to_skimage_on_random_and_blobby_maps(seed):
    rng = np.random.default_rng(seed)
    for k in range(60):
        h, w = rng.integers(1, 48, 2)
        if k % 2:
            binary = rng.random((h, w)) < rng.uniform(0.1, 0.9)
        else:
            binary = ndimage.gaussian_filter(rng.random((h, w)), rng.uniform(0.5, 4)) > 0.5
        assert np.array_equal(thin(binary), skimage_thin(binary)), (seed, k)


def test_full_and_border_touching_blobs():
    for binary in (np.ones((9, 13), bool), np.pad(np.ones((5, 5), bool), ((0, 4), (3, 0)))):
        assert np.array_equal(thin(binary), skimage_thin(binary))


def test_known_values_and_edge_cases():
    line = np.zeros((5, 7), bool)
    line[2, 1:6] = True
    assert np.array_equal(thin(line), line)  # already thin
    assert not thin(np.zeros((4, 4), bool)).any()
    assert thin(np.ones((1, 1), bool)).all()
    assert thin(np.array([[0, 2], [0, 0]], dtype=np.uint8)).dtype == bool


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="binary"):
        thin(np.zeros((3, 3, 3), bool))
    with pytest.raises(ValueError, match="binary"):
        thin(np.zeros((3, 3), np.float32))
