"""Reference boundaries on hand-built meshes with known answers, plus the derived maps and the file format."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from obtoolkit._open3d import open3d_available
from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.geometry import standard_M_cam_from_uv
from obtoolkit.hypersim import FrameId
from obtoolkit.synth import meshes
from obtoolkit.synth.cameras import look_at
from obtoolkit.synth.reference import (
    DEFAULT_PARAMS,
    INTER_OBJECT,
    NEIGHBOURS,
    NONE,
    OFFSETS,
    SELF_OCCLUSION,
    VOID,
    ReferenceBoundaries,
    ReferenceParams,
    below_depth_precision,
    compute_reference,
    float16_spacing_m,
    object_keys,
    read_reference,
    reference_path,
    write_reference,
)

needs_open3d = pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) is not installed")
SCALE = 0.01  # metres per asset unit: the meshes below are in metres, the caster works in centimetres
H, W = 48, 64


def _reference(parts: list[tuple[meshes.Mesh, int]], position_m, target_m,
               params: ReferenceParams = DEFAULT_PARAMS) -> ReferenceBoundaries:
    """Reference of one view of `parts` (mesh in metres, key): object i is parts[i]."""
    from obtoolkit.raycast import MeshCaster, RayCamera

    merged = meshes.concatenate([mesh for mesh, _ in parts])
    faces_oi = np.concatenate([np.full(len(mesh.faces), i) for i, (mesh, _) in enumerate(parts)])
    keys = np.array([key for _, key in parts])[faces_oi]
    caster = MeshCaster(merged.vertices / SCALE, merged.faces, keys)
    position = np.asarray(position_m, float)
    camera = RayCamera(standard_M_cam_from_uv(H, W), look_at(position, np.asarray(target_m, float)),
                       position / SCALE, H, W)
    return compute_reference(caster, camera, faces_oi, SCALE, params)


def _pairs(reference: ReferenceBoundaries):
    """Every in-image pair: (object_p, object_q, relation, class, gap) as flat arrays."""
    out = []
    for k, (dr, dc) in enumerate(OFFSETS):
        rows, cols = np.mgrid[0:H, 0:W]
        inside = (rows + dr >= 0) & (rows + dr < H) & (cols + dc < W)
        rows, cols = rows[inside], cols[inside]
        out.append((reference.object_id[rows, cols], reference.object_id[rows + dr, cols + dc],
                    reference.relation[rows, cols, k], reference.relation_class[rows, cols, k],
                    reference.gap_m[rows, cols, k]))
    return [np.concatenate(parts) for parts in zip(*out, strict=True)]


def _wall(y_m: float) -> meshes.Mesh:
    return meshes.rectangle_with_hole([-20, y_m, -20], [40, 0, 0], [0, 0, 40])


@needs_open3d
def test_box_in_front_of_a_wall_occludes_along_its_silhouette():
    box = meshes.box([-0.3, 1.5, -0.3], [0.3, 2.1, 0.3])
    reference = _reference([(_wall(3.0), 0), (box, 1)], [0.4, 0.0, 0.5], [0.0, 1.8, 0.0])
    object_p, object_q, relation, classes, gap = _pairs(reference)
    assert set(np.unique(classes)) == {NONE, INTER_OBJECT}
    np.testing.assert_array_equal(classes == INTER_OBJECT, object_p != object_q)
    box_side = np.where(object_p == 1, 1, -1)  # the box is nearer, so the box pixel occludes
    np.testing.assert_array_equal(relation[classes == INTER_OBJECT], box_side[classes == INTER_OBJECT])
    assert np.all(np.sign(gap[classes == INTER_OBJECT]) == relation[classes == INTER_OBJECT])
    on_box = reference.object_id == 1
    padded = np.pad(~on_box, 1, constant_values=False)
    touches_wall = np.zeros_like(on_box)
    for dr, dc in NEIGHBOURS:
        touches_wall |= padded[1 + dr:1 + dr + H, 1 + dc:1 + dc + W]
    np.testing.assert_array_equal(reference.occluder_mask(), on_box & touches_wall)
    assert on_box.sum() > 100


def _l_crease(welded: bool) -> list[tuple[meshes.Mesh, int]]:
    floor_corners = [[-1, 0, 0], [1, 0, 0], [1, 2, 0], [-1, 2, 0]]
    wall_corners = [[-1, 2, 0], [1, 2, 0], [1, 2, 1.5], [-1, 2, 1.5]]
    if welded:
        vertices = np.array(floor_corners + wall_corners[2:], float)
        return [(meshes.flat_mesh(vertices, np.array([[0, 1, 2], [0, 2, 3], [3, 2, 4], [3, 4, 5]])), 7)]
    quad = np.array([[0, 1, 2], [0, 2, 3]])
    return [(meshes.flat_mesh(np.array(floor_corners, float), quad), 7),
            (meshes.flat_mesh(np.array(wall_corners, float), quad), 7)]


@needs_open3d
@pytest.mark.parametrize("welded", [True, False], ids=["welded", "two_parts"])
def test_concave_crease_of_one_object_is_not_a_boundary(welded):
    reference = _reference(_l_crease(welded), [0.3, -1.0, 1.6], [0.0, 1.5, 0.4])
    object_p, object_q, relation, classes, _ = _pairs(reference)
    hit_p, hit_q = object_p >= 0, object_q >= 0
    assert (hit_p & hit_q).sum() > 1000 and (hit_p != hit_q).any()
    np.testing.assert_array_equal(classes, np.where(hit_p != hit_q, VOID, NONE))
    np.testing.assert_array_equal(relation[hit_p != hit_q], np.where(hit_p, 1, -1)[hit_p != hit_q])


def _two_boxes(shift_m: tuple[float, float], key_a: int = 3, key_b: int = 3) -> list[tuple[meshes.Mesh, int]]:
    dx, dy = shift_m
    return [(meshes.box([-0.5, -0.1, 0.0], [0.0, 0.1, 0.5]), key_a),
            (meshes.box([dx, -0.1 + dy, 0.0], [0.5 + dx, 0.1 + dy, 0.5]), key_b), (_wall(2.0), 0)]


@needs_open3d
def test_two_parts_of_one_object_in_contact_have_no_boundary_between_them():
    view = ([-0.2, -1.6, 1.0], [0.0, 0.0, 0.3])
    object_p, object_q, _, classes, gap = _pairs(_reference(_two_boxes((0.0, 0.0)), *view))
    between = ((object_p == 0) & (object_q == 1)) | ((object_p == 1) & (object_q == 0))
    assert between.sum() > 20
    assert np.all(classes[between] == NONE)
    # The same geometry as two objects: an inter-object tie (gap about 0) along the contact.
    object_p, object_q, _, classes, gap = _pairs(_reference(_two_boxes((0.0, 0.0), key_b=4), *view))
    between = ((object_p == 0) & (object_q == 1)) | ((object_p == 1) & (object_q == 0))
    assert np.all(classes[between] == INTER_OBJECT)
    on_one_box = (object_p == 0) & (object_q == 0)
    assert np.abs(gap[between]).max() <= np.abs(gap[on_one_box]).max() + 1e-3  # no bigger than along one surface


def _between(reference: ReferenceBoundaries, a: int, b: int):
    """Per-pair masks and values for pairs joining objects a and b: (mask, contact, separation) as flat arrays."""
    masks, contacts, separations = [], [], []
    for k, (dr, dc) in enumerate(OFFSETS):
        rows, cols = np.mgrid[0:H, 0:W]
        inside = (rows + dr >= 0) & (rows + dr < H) & (cols + dc < W)
        rows, cols = rows[inside], cols[inside]
        op, oq = reference.object_id[rows, cols], reference.object_id[rows + dr, cols + dc]
        masks.append(((op == a) & (oq == b)) | ((op == b) & (oq == a)))
        contacts.append(reference.contact[rows, cols, k])
        separations.append(np.abs(reference.separation_m[rows, cols, k]))
    return np.concatenate(masks), np.concatenate(contacts), np.concatenate(separations)


@needs_open3d
def test_contacts_and_separations_between_objects():
    """Two touching boxes of different objects meet (contact); a box in front of a wall does not, and its separation
    is the box-wall gap; a poster 2 mm off the wall is separated by 2 mm."""
    view = ([-0.2, -1.6, 1.0], [0.0, 0.0, 0.3])
    touching = _reference(_two_boxes((0.0, 0.0), key_b=4), *view)
    mask, contact, _ = _between(touching, 0, 1)
    assert mask.sum() > 20 and contact[mask].mean() > 0.9
    mask, contact, separation = _between(touching, 0, 2)  # the left box against the wall 2 m away
    assert mask.sum() > 20 and not contact[mask].any()
    assert np.median(separation[mask]) > 1.5
    poster = meshes.box([-0.3, 2.998, 0.2], [0.3, 2.9995, 0.9])  # 2 mm in front of the wall at y = 3
    reference = _reference([(_wall(3.0), 0), (poster, 1)], [0.2, 0.0, 0.6], [0.0, 3.0, 0.55])
    mask, contact, separation = _between(reference, 0, 1)
    assert mask.sum() > 20 and not contact[mask].any()
    np.testing.assert_allclose(np.median(separation[mask]), 0.002, atol=0.0008)


@needs_open3d
def test_a_part_behind_another_part_of_the_same_object_is_a_self_occlusion():
    reference = _reference(_two_boxes((0.05, 0.25)), [-0.3, -1.6, 1.0], [0.1, 0.0, 0.3])
    object_p, object_q, relation, classes, gap = _pairs(reference)
    between = ((object_p == 0) & (object_q == 1)) | ((object_p == 1) & (object_q == 0))
    assert between.sum() > 20
    assert np.all(classes[between] == SELF_OCCLUSION)
    np.testing.assert_array_equal(relation[between], np.where(object_p == 0, 1, -1)[between])  # the front box
    within = (object_p == object_q) & (object_p >= 0)
    assert np.all(classes[within] == NONE)  # convex boxes and a flat wall never occlude themselves
    assert np.all(np.sign(gap[classes == SELF_OCCLUSION]) == relation[classes == SELF_OCCLUSION])


@needs_open3d
@pytest.mark.parametrize(("gap_m", "tolerance_m", "expected"), [
    (0.0002, 1e-3, NONE), (0.05, 1e-3, SELF_OCCLUSION), (0.0002, 1e-5, SELF_OCCLUSION)])
def test_contact_tolerance_decides_between_touching_and_occluding(gap_m, tolerance_m, expected):
    base = meshes.box([-0.2, -0.2, 0.0], [0.2, 0.2, 0.4])
    slab = meshes.box([-0.2, -0.2, 0.4 + gap_m], [0.2, 0.2, 0.5 + gap_m])
    params = ReferenceParams(contact_tol_m=tolerance_m)
    reference = _reference([(base, 5), (slab, 5), (_wall(2.0), 0)], [0.0, -1.2, 1.2], [0.0, 0.0, 0.4], params)
    object_p, object_q, _, classes, _ = _pairs(reference)
    between = ((object_p == 0) & (object_q == 1)) | ((object_p == 1) & (object_q == 0))
    assert between.sum() > 10
    assert set(np.unique(classes[between])) == {expected}


def test_object_keys_follow_the_label_rule():
    keys = object_keys(np.array([1, 2, 22, 5, 5, -1, 40]), np.array([-1, -1, -1, 3, 3, -1, -1]),
                       np.array([4, 5, 6, 1, 2, 3, 7]))
    np.testing.assert_array_equal(keys, [0, 0, 0, 3, 3, -3, -7])


def _random_reference(seed: int = 0, shape=(5, 7)) -> ReferenceBoundaries:
    rng = np.random.default_rng(seed)
    relation = rng.integers(-1, 2, shape + (4,)).astype(np.int8)
    relation[:, -1, [0, 2, 3]] = 0  # pairs that leave the image
    relation[-1, :, [1, 2]] = 0
    relation[0, :, 3] = 0
    classes = np.where(relation != 0, rng.integers(1, 4, shape + (4,)), 0).astype(np.uint8)
    gap = rng.normal(size=shape + (4,)).astype(np.float32)
    ids = rng.integers(-1, 5, shape).astype(np.int32)
    contact = (classes == 2) & (rng.random(shape + (4,)) < 0.3)
    return ReferenceBoundaries(relation, classes, gap, contact, gap, ids, ids, np.zeros_like(contact))


def test_order_map_is_exactly_antisymmetric_and_in_p2orm_layout():
    reference = _random_reference()
    order = reference.order_map()
    assert order.dtype == np.int8 and order.shape == (5, 7, 9)
    height, width = 5, 7
    for channel, (dr, dc) in enumerate(NEIGHBOURS, start=1):
        opposite = 1 + NEIGHBOURS.index((-dr, -dc))
        for r in range(height):
            for c in range(width):
                if 0 <= r + dr < height and 0 <= c + dc < width:
                    assert order[r, c, channel] == -order[r + dr, c + dc, opposite]
                else:
                    assert order[r, c, channel] == 0
    np.testing.assert_array_equal(order[..., 5], reference.relation[..., 0])  # E
    np.testing.assert_array_equal(order[..., 0], (order[..., 1:] != 0).any(axis=-1))


def test_occluder_class_priority_and_mask():
    relation = np.zeros((1, 3, 4), np.int8)
    classes = np.zeros((1, 3, 4), np.uint8)
    relation[0, 0, 0], classes[0, 0, 0] = 1, VOID  # pixel 0 occludes pixel 1 (void)
    relation[0, 1, 0], classes[0, 1, 0] = -1, SELF_OCCLUSION  # pixel 2 occludes pixel 1 (self)
    contact = np.zeros((1, 3, 4), bool)
    reference = ReferenceBoundaries(relation, classes, np.zeros((1, 3, 4), np.float32), contact,
                                    np.zeros((1, 3, 4), np.float32), np.zeros((1, 3), np.int32),
                                    np.zeros((1, 3), np.int32), np.zeros((1, 3, 4), bool))
    np.testing.assert_array_equal(reference.occluder_class(), [[VOID, NONE, SELF_OCCLUSION]])
    np.testing.assert_array_equal(reference.occluder_mask(classes=(SELF_OCCLUSION,)), [[False, False, True]])
    relation[0, 0, 0], classes[0, 0, 0] = -1, INTER_OBJECT  # now pixel 1 occludes pixel 0, inter-object
    relation[0, 1, 0] = 1  # and pixel 2 (self)
    np.testing.assert_array_equal(reference.occluder_class(), [[NONE, INTER_OBJECT, NONE]])
    contact[0, 0, 0] = True  # the inter-object pair is a contact: left out on request
    np.testing.assert_array_equal(reference.occluder_mask(classes=(INTER_OBJECT,), contacts=False), [[0, 0, 0]])
    np.testing.assert_array_equal(reference.occluder_mask(contacts=False), [[False, True, False]])  # via self
    np.testing.assert_array_equal(reference.contact_occluder_mask(), [[False, True, False]])


def test_reference_file_round_trip_and_errors(tmp_path):
    frame = FrameId("ai_900_001", "cam_00", 3)
    reference = _random_reference(1)
    path = write_reference(tmp_path, frame, reference)
    assert path == reference_path(tmp_path, frame)
    assert path.relative_to(tmp_path).as_posix() == "ai_900_001/_synth_reference/cam_00/frame.0003.occlusion.npz"
    again = read_reference(tmp_path, frame)
    for field in dataclasses.fields(ReferenceBoundaries):
        np.testing.assert_array_equal(getattr(again, field.name), getattr(reference, field.name))
    with pytest.raises(MissingFileError, match="frame.0004"):
        read_reference(tmp_path, frame._replace(frame=4))
    bad = dataclasses.replace(reference, relation=reference.relation.astype(np.int16))
    write_reference(tmp_path, frame, bad)
    with pytest.raises(FormatError, match="relation int8"):
        read_reference(tmp_path, frame)
    path.write_bytes(b"not a zip")
    with pytest.raises(FormatError, match="npz"):
        read_reference(tmp_path, frame)


def test_below_depth_precision_follows_float16_spacing():
    classes = np.array([SELF_OCCLUSION, SELF_OCCLUSION, INTER_OBJECT, NONE, VOID, SELF_OCCLUSION], np.uint8)
    gap = np.array([0.0019, 0.0021, -0.007, 0.0, 0.0, np.nan], np.float32)
    far = np.array([3.0, 3.0, 12.0, 3.0, 3.0, np.nan])  # float16 spacing: 1.95 mm at 2-4 m, 7.8 mm at 8-16 m
    np.testing.assert_array_equal(below_depth_precision(classes, gap, far), [True, False, True, False, False, False])
    np.testing.assert_allclose(float16_spacing_m(np.array([1.5, 3.0, 12.0, 20.0])),
                               [2.0 ** -10, 2.0 ** -9, 2.0 ** -7, 2.0 ** -6])


@needs_open3d
@pytest.mark.parametrize(("thickness_m", "below"), [(0.002, True), (0.03, False)])
def test_a_panel_below_float16_precision_at_its_range_is_marked(thickness_m, below):
    """A panel of the wall's own key, `thickness_m` proud of the wall 14 m away (float16 steps by 7.8 mm there):
    its outline is a self-occlusion, marked don't-care where the depth step is below that spacing."""
    distance_m, half = 14.0, 0.56
    panel = meshes.box([-half, distance_m - thickness_m, -half], [half, distance_m, half])
    reference = _reference([(_wall(distance_m), 0), (panel, 0)], [0.0, 0.0, 0.0], [0.0, distance_m, 0.0])
    assert (reference.relation_class == SELF_OCCLUSION).sum() > 10
    assert reference.below_precision.any() == below
    assert not reference.below_precision[reference.relation_class == NONE].any()
