from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.metrics.pr_curve import average_precision, best_interpolated, recall_at_precision, recall_precision_f


def test_recall_precision_f_handles_empty_denominators():
    r, p, f = recall_precision_f([0, 5], [0, 10], [0, 4], [0, 5])
    assert np.allclose(r, [0, 0.5]) and np.allclose(p, [0, 0.8])
    assert f[0] == 0 and f[1] == pytest.approx(2 * 0.4 / 1.3)


def test_best_interpolated_finds_point_between_thresholds():
    # F along the segment from (R=1, P=0) to (R=0, P=1) peaks at 0.5 in the middle.
    best = best_interpolated(np.array([0.2, 0.4]), np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert best.f_measure == pytest.approx(0.5, abs=1e-4) and best.threshold == pytest.approx(0.3, abs=2e-3)


def test_average_precision_hand_computed():
    # P(R) = 1 on R in [0.2, 0.6]: grid points 0.2 ... 0.6 (41 of them), sum 41, /100.
    assert average_precision(np.array([0.6, 0.2]), np.array([1.0, 1.0])) == pytest.approx(0.41)
    # P linear from 1 at R=0 to 0 at R=1: sum over 101 points of (1 - R) = 50.5.
    assert average_precision(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(0.505)
    assert average_precision(np.array([0.3, 0.3]), np.array([0.5, 0.6])) == 0.0


def test_recall_at_precision():
    recall, precision = np.array([0.9, 0.5, 0.1]), np.array([0.3, 0.7, 0.9])
    assert recall_at_precision(recall, precision) == pytest.approx(0.9 - 0.4 * 0.5)
    assert recall_at_precision(np.array([0.4, 0.2]), np.array([0.6, 0.9])) == pytest.approx(0.4)
    assert np.isnan(recall_at_precision(np.array([0.4, 0.2]), np.array([0.1, 0.3])))
