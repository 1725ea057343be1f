from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.boundaries import p2orm
from obtoolkit.hypersim import read_hdf5_dataset

P2ORM_FIXTURE_K = np.array([[887.535, 0, 573.44], [0, 887.535, 457.642], [0, 0, 1]])


@pytest.fixture(scope="module")
def fixture_order(shared_fixtures):
    depth = read_hdf5_dataset(
        shared_fixtures / "hypersim/ai_037_002/images/scene_cam_00_geometry_hdf5/frame.0000.depth_meters.hdf5",
        what="depth", kind="f")
    normals = np.load(shared_fixtures / "p2orm_compat/ai_037_002_f0000_normals_cam_from_depth.npy")
    return p2orm.occlusion_order(depth.astype(np.float32) * 1000, normals, P2ORM_FIXTURE_K, 25)


def test_matches_p2orm_on_the_real_frame(fixture_order):
    """P2ORM's own code on this input: 48,566 / 128,292 / 25,368 / 21,676 (spec §3.7, issue acceptance)."""
    order = fixture_order
    assert order.dtype == np.int8 and order.shape == (768, 1024, 9)
    assert int(order[..., 0].sum()) == 48_566
    assert int(np.count_nonzero(order[..., 1:])) == 128_292
    fg, bg, edge = p2orm.order_to_boundaries(order)
    assert int(fg.sum()) == 25_368 and int(bg.sum()) == 21_676 and int(edge.sum()) == 48_566
    theta = p2orm.order_to_orientation(order)
    assert theta.dtype == np.float32 and not theta[fg == 0].any()
    assert np.all(np.abs(theta) <= 1)


def test_real_frame_asymmetry_is_p2orms(fixture_order):
    """P2ORM zeroes spikes on one side only: some E/W pairs are not antisymmetric (388 on this frame, spec §3.2)."""
    east, west = fixture_order[:, :-1, 5], fixture_order[:, 1:, 4]
    assert np.count_nonzero(east != -west) > 0


def step_frame(step_mm=100.0, tau=25.0):
    """A fronto-parallel plane with a vertical step: left half nearer."""
    height, width = 12, 16
    fx, cx, cy = 20.0, width / 2, height / 2
    K = np.array([[fx, 0, cx], [0, fx, cy], [0, 0, 1]])
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    rays = np.stack([xs - cx, cy - ys, -np.full_like(xs, fx)], axis=-1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    planar = np.where(xs < width / 2, 1000.0, 1000.0 + step_mm)
    distance = planar / -rays[..., 2]
    normals = np.zeros((height, width, 3))
    normals[..., 2] = 1
    return distance, normals, K


def test_step_labels_near_side_as_occluder_with_left_rule():
    distance, normals, K = step_frame()
    order = p2orm.occlusion_order(distance, normals, K, 25.0)
    fg, bg, _ = p2orm.order_to_boundaries(order)
    assert fg[:, 7].all() and not fg[:, 8].any()
    assert bg[:, 8].all()
    theta = p2orm.order_to_orientation(order)
    # occluder on the left, background on the right: theta = -pi/2 (pointing up the image)
    interior = slice(1, -1)
    np.testing.assert_allclose(theta[interior, 7], -0.5, atol=1e-4)
    assert order[5, 7, 5] == 1 and order[5, 8, 4] == -1  # E of the near pixel, W of the far pixel


def test_slanted_plane_is_not_a_boundary_thanks_to_normals():
    height, width = 12, 16
    K = np.array([[20.0, 0, 8], [0, 20.0, 6], [0, 0, 1]])
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    rays = np.stack([xs - 8, 6 - ys, -np.full_like(xs, 20.0)], axis=-1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    normal = np.array([0.6, 0.0, 0.8])  # facing the camera (n . ray < 0 everywhere)
    distance = -1000.0 / (rays @ normal)  # the plane n . X = -1000
    assert np.abs(np.diff(distance, axis=1)).max() > 25  # zero order alone would fire
    order = p2orm.occlusion_order(distance, np.broadcast_to(normal, rays.shape).copy(), K, 25.0)
    assert not order.any()


def test_invalid_pixels_are_skipped_and_not_pointed_at():
    distance, normals, K = step_frame()
    invalid = np.zeros(distance.shape, bool)
    invalid[5, 8] = True
    order = p2orm.occlusion_order(distance, normals, K, 25.0, invalid=invalid)
    assert not order[5, 8].any()
    assert order[5, 7, 5] == 0 and order[4, 7, 8] == 0 and order[6, 7, 3] == 0


def test_nan_in_window_blanks_the_pixel():
    distance, normals, K = step_frame()
    distance[5, 9] = np.nan
    order = p2orm.occlusion_order(distance, normals, K, 25.0)
    assert not order[5, 8].any() and not order[4, 8].any()  # (5, 9) is in their 3x3 windows
    assert order[0, 7, 5] == 1


def test_zero_depth_is_infinitely_far():
    distance, normals, K = step_frame(step_mm=0.0)
    distance[:, 12:] = 0.0
    order = p2orm.occlusion_order(distance, normals, K, 25.0)
    assert (order[2:-2, 11, 5] == 1).all()  # the valid pixel occludes its "void" neighbour


def test_all_eight_rule_drops_a_lone_spike():
    distance, normals, K = step_frame(step_mm=0.0)
    distance[6, 4] -= 200.0
    order = p2orm.occlusion_order(distance, normals, K, 25.0)
    assert not order[6, 4].any()
    assert order[6, 5, 4] == -1  # the neighbour keeps its side: P2ORM is not antisymmetric here


def test_isolated_pixel_filter_border_quirk():
    order = np.zeros((6, 6, 9), np.int8)
    order[3, 3, 5] = 1  # an interior lone occluder
    order[0, 3, 5] = 1  # a lone occluder on the top border: 'reflect' counts it twice
    fg, _, edge = p2orm.order_to_boundaries(order)
    assert fg[0, 3] == 1 and fg[3, 3] == 0 and edge[3, 3] == 1


@pytest.mark.parametrize(("channel", "expected"), [(5, -0.5), (4, 0.5), (7, 0.0), (2, -1.0)])
def test_orientation_of_a_single_relation(channel, expected):
    """theta / pi for one occluded neighbour: E -> -1/2, W -> +1/2, S -> 0, N -> -1 (P2ORM returns -pi, not +pi)."""
    order = np.zeros((1, 1, 9), np.int8)
    order[0, 0, channel] = 1
    assert p2orm.raw_orientation_over_pi(order)[0, 0] == pytest.approx(expected, abs=1e-4)
