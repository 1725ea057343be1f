"""Reference boundaries of the shared synthetic scenes, checked against the images read back from disk."""

from __future__ import annotations

import numpy as np
import pytest

from obtoolkit._open3d import open3d_available
from obtoolkit.hypersim import HypersimLayout, iter_frames, read_geometry, read_metadata_nodes
from obtoolkit.synth.reference import (
    INTER_OBJECT,
    NEIGHBOURS,
    NONE,
    OFFSETS,
    SELF_OCCLUSION,
    STUFF_CLASSES,
    VOID,
    read_reference,
)

pytestmark = pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) is not installed")
CHAIR, SOFA, CHEST, TORUS = 1, 2, 3, 4  # instance ids of the synthetic layout


@pytest.fixture(scope="module")
def frames(synthetic_root):
    """[(frame, reference, images)] for every frame; images hold the stored depth and id maps."""
    layout = HypersimLayout(synthetic_root)
    out = []
    for frame in iter_frames(synthetic_root):
        images = {m: read_geometry(layout, frame, m) for m in
                  ("depth_meters", "render_entity_id", "semantic", "semantic_instance")}
        out.append((frame, read_reference(synthetic_root, frame), images))
    return out


def _pair_values(array, k):
    """(value at p, value at q) over all in-image pairs of inclination k, flattened."""
    dr, dc = OFFSETS[k]
    height, width = array.shape[:2]
    p = array[max(0, -dr):height - max(0, dr), :width - dc]
    q = array[max(0, dr):height - max(0, -dr), dc:]
    return p.reshape(-1, *array.shape[2:]), q.reshape(-1, *array.shape[2:])


def _pair_field(reference, name, k):
    return _pair_values(getattr(reference, name)[..., k], k)[0]


def _keys(images):
    """The label rule's object key from the stored images: instance, stuff (0) or -render entity."""
    instance, semantic, entity = (images[m].astype(np.int64) for m in
                                  ("semantic_instance", "semantic", "render_entity_id"))
    return np.where(instance >= 1, instance, np.where(np.isin(semantic, STUFF_CLASSES), 0, -entity))


def test_classes_follow_the_definition_on_the_stored_images(frames):
    for frame, reference, images in frames:
        valid = np.isfinite(images["depth_meters"])
        keys = _keys(images)
        for k in range(4):
            valid_p, valid_q = _pair_values(valid, k)
            key_p, key_q = _pair_values(keys, k)
            classes, relation = _pair_field(reference, "relation_class", k), _pair_field(reference, "relation", k)
            gap = _pair_field(reference, "gap_m", k)
            np.testing.assert_array_equal(classes == VOID, valid_p != valid_q, err_msg=str(frame))
            np.testing.assert_array_equal(relation[valid_p != valid_q], np.where(valid_p, 1, -1)[valid_p != valid_q])
            both = valid_p & valid_q
            np.testing.assert_array_equal(classes[both] == INTER_OBJECT, key_p[both] != key_q[both])
            assert set(np.unique(classes[both & (key_p == key_q)])) <= {NONE, SELF_OCCLUSION}
            assert np.all(classes[~valid_p & ~valid_q] == NONE)
            occluding = (classes == INTER_OBJECT) | (classes == SELF_OCCLUSION)
            np.testing.assert_array_equal(relation[occluding], np.sign(gap[occluding]))  # the nearer one occludes
            depth_p, depth_q = (d.astype(np.float64) for d in _pair_values(images["depth_meters"], k))
            np.testing.assert_allclose(gap[both], (depth_q - depth_p)[both], atol=0.01)
            assert np.isnan(gap[~both]).all()


def test_face_and_object_ids_agree_with_the_render_entities(frames, synthetic_root):
    layout = HypersimLayout(synthetic_root)
    for frame, reference, images in frames:
        nodes = read_metadata_nodes(layout, frame.scene)
        object_to_node = dict(zip(nodes["object_id"], nodes["node_id"], strict=True))
        hit = reference.face_id >= 0
        np.testing.assert_array_equal(hit, np.isfinite(images["depth_meters"]))
        np.testing.assert_array_equal(reference.object_id < 0, ~hit)
        np.testing.assert_array_equal(np.vectorize(object_to_node.get)(reference.object_id[hit]),
                                      images["render_entity_id"][hit])


def test_self_occlusions_of_chair_chest_and_torus(frames):
    seen = {CHAIR: 0, CHEST: 0, TORUS: 0}
    for _, reference, images in frames:
        occluders = reference.occluder_mask(classes=(SELF_OCCLUSION,))
        for instance in seen:
            seen[instance] += int((occluders & (images["semantic_instance"] == instance)).sum() > 0)
    assert seen[CHAIR] == len(frames) and seen[CHEST] == len(frames)  # armrests over the seat; rim / lid
    assert seen[TORUS] >= len(frames) // 2  # the near tube over the far one (depends on the viewing angle)


def test_void_at_the_window_and_near_ties_at_the_poster(frames, synthetic_root):
    layout = HypersimLayout(synthetic_root)
    for frame, reference, images in frames:
        assert reference.occluder_mask(classes=(VOID,)).sum() > 20
        nodes = read_metadata_nodes(layout, frame.scene).set_index("object_name")["node_id"]
        poster, wall = nodes["poster"], nodes["room_wall_back"]
        ties = 0
        for k in range(4):
            entity_p, entity_q = _pair_values(images["render_entity_id"], k)
            at_poster = ((entity_p == poster) & (entity_q == wall)) | ((entity_p == wall) & (entity_q == poster))
            assert np.all(_pair_field(reference, "relation_class", k)[at_poster] == INTER_OBJECT)
            assert np.abs(_pair_field(reference, "gap_m", k)[at_poster]).max() < 0.05  # a tie, not a jump
            ties += int(at_poster.sum())
        assert ties > 30, frame


def test_no_relation_inside_walls_floor_and_ceiling(frames):
    for frame, reference, images in frames:
        stuff = np.isin(images["semantic"], STUFF_CLASSES)
        for k in range(4):
            stuff_p, stuff_q = _pair_values(stuff, k)
            classes = _pair_field(reference, "relation_class", k)
            assert (stuff_p & stuff_q).sum() > 1000
            assert np.all(classes[stuff_p & stuff_q] == NONE), frame  # planar walls, concave room corners


def test_order_maps_are_exactly_antisymmetric(frames):
    for _, reference, _ in frames:
        order = reference.order_map()
        height, width = reference.shape_hw
        padded = np.pad(order, ((1, 1), (1, 1), (0, 0)))
        for channel, (dr, dc) in enumerate(NEIGHBOURS, start=1):
            opposite = 1 + NEIGHBOURS.index((-dr, -dc))
            neighbour = padded[1 + dr:1 + dr + height, 1 + dc:1 + dc + width, opposite]
            np.testing.assert_array_equal(order[..., channel], -neighbour)
        assert (order[..., 1:] != 0).any()
