"""Mesh-exact self-occlusion (spec §6.7), for users who own the scene meshes (or synthetic scenes).

Same-object pairs are decided on the mesh instead of by the tangent-plane test and its threshold: a pair (p, q) is a
self-occlusion exactly when the object's visible surface is not continuous along the image segment between the two
pixel centres; the nearer pixel occludes. Continuity is decided by casting rays on that object alone (other objects
are transparent, so a thin pole in front of a wall does not cut the wall): the segment is continuous when the hits at
the two ends of every sub-interval lie on the same or vertex-sharing (welded) faces, or within `contact_tol_m` of each
other in 3-D once the interval has been bisected far enough. A real occlusion keeps a gap of the surfaces' separation
however finely the segment is cut; a crease, a bend or two parts of one object in contact (a leg under a seat) close
it. Inter-object and void pairs keep the generator's rules.

Pixels whose cast distance disagrees with depth_meters by more than `depth_tolerance_m`, or whose mesh object key
differs from the id maps' key, are left to the geometric test (reported in `MeshSelfRelations.n_mismatched`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from obtoolkit.boundaries.keys import KEY_INSTANCE, KEY_NODE, KEY_STUFF, ObjectKeys
from obtoolkit.boundaries.params import LabelParams
from obtoolkit.geometry import pixel_centre_uv
from obtoolkit.hypersim.frames import FrameGeometry
from obtoolkit.hypersim.metadata import MeshAnnotations, MeshGeometry
from obtoolkit.raycast import MeshCaster, RayCamera

_OFFSETS = ((0, 1), (1, 0), (1, 1), (-1, 1))


@dataclass(frozen=True)
class MeshExactParams:
    """contact_tol_m: 3-D distance under which two surface samples touch; max_bisections: how often an open
    sub-interval is halved before it counts as a gap; depth_tolerance_m: cast vs depth_meters agreement."""

    contact_tol_m: float = 1e-3
    max_bisections: int = 14
    depth_tolerance_m: float = 0.01


@dataclass(frozen=True, eq=False)
class MeshSelfRelations:
    """relation int8 (H, W, 4) [E, S, SE, NE] for same-object pairs decided on the mesh; decided bool (H, W, 4)."""

    relation: np.ndarray
    decided: np.ndarray
    n_mismatched: int


def face_keys(mesh: MeshGeometry, annotations: MeshAnnotations, nodes: pd.DataFrame, params: LabelParams) -> np.ndarray:
    """Object key of every face, by the same rule as `obtoolkit.boundaries.keys.object_keys` for pixels.

    The node of an object (for unlabelled, non-stuff objects) comes from metadata_nodes.csv (node_id -> object_id).
    """
    n_objects = len(annotations.object_semantic)
    object_node = np.zeros(n_objects, np.int64)
    with_object = nodes[nodes["object_id"] >= 0]
    object_node[with_object["object_id"].to_numpy()] = with_object["node_id"].to_numpy()
    objects = mesh.faces_oi
    semantic, instance, node = (annotations.object_semantic[objects], annotations.object_instance[objects],
                                object_node[objects])
    kind = np.where(instance >= 1, KEY_INSTANCE, np.where(np.isin(semantic, list(params.stuff_classes)), KEY_STUFF,
                                                          KEY_NODE))
    if params.unlabeled_policy == "stuff":
        kind = np.where(kind == KEY_NODE, KEY_STUFF, kind)
    ident = np.where(kind == KEY_INSTANCE, instance, np.where(kind == KEY_NODE, node, 0))
    return ObjectKeys(kind, ident).encoded()


def mesh_self_relations(
    caster: MeshCaster,
    camera: RayCamera,
    meters_per_asset_unit: float,
    frame: FrameGeometry,
    keys: ObjectKeys,
    params: MeshExactParams | None = None,
) -> MeshSelfRelations:
    """Self-occlusion relations of one frame decided on the mesh.

    Args:
        caster: the scene mesh with `face_key` from `face_keys` (asset units).
        camera: the frame's exact camera (pose of its keyframe).
        meters_per_asset_unit: scene scale.
        frame: the frame record (depth_meters and valid mask are used).
        keys: the frame's object keys (`frame_object_keys`), the same the generator uses.
    """
    params = MeshExactParams() if params is None else params
    distance_m, valid_mask, pixel_key = frame.distance_m, frame.valid_mask, keys.encoded()
    rays = camera.pixel_rays()
    hits = caster.cast(rays)
    face, points = hits.face, hits.points_asset(rays)
    cast_m = np.where(hits.hit, hits.t_asset.astype(np.float64) * meters_per_asset_unit, np.nan)
    with np.errstate(invalid="ignore"):
        agree = hits.hit & valid_mask & (np.abs(cast_m - distance_m) <= params.depth_tolerance_m)
    agree &= caster.face_key[np.maximum(face, 0)] == pixel_key
    height, width = valid_mask.shape
    relation = np.zeros((height, width, 4), np.int8)
    decided = np.zeros((height, width, 4), bool)
    u, v = pixel_centre_uv(height, width)
    uv = np.stack([u, v], axis=-1)
    for k, (dy, dx) in enumerate(_OFFSETS):
        rows, cols = np.nonzero(agree[max(0, -dy):height - max(0, dy), :width - dx] &
                                agree[max(0, dy):height + min(0, dy), dx:])
        p = (rows + max(0, -dy), cols)
        q = (p[0] + dy, p[1] + dx)
        same = pixel_key[p] == pixel_key[q]
        p, q = (p[0][same], p[1][same]), (q[0][same], q[1][same])
        decided[p[0], p[1], k] = True
        open_pairs = ~caster.faces_touch(face[p], face[q])
        p, q = (p[0][open_pairs], p[1][open_pairs]), (q[0][open_pairs], q[1][open_pairs])
        broken = _discontinuous(caster, camera, uv, face, points, p, q, pixel_key[p], params, meters_per_asset_unit)
        # the order follows the stored depth that training sees (a float16 tie gives no relation)
        nearer = np.sign(distance_m[q].astype(np.float64) - distance_m[p]).astype(np.int8)
        relation[p[0][broken], p[1][broken], k] = nearer[broken]
    return MeshSelfRelations(relation, decided, int(np.count_nonzero(valid_mask & ~agree)))


def _discontinuous(caster, camera, uv, face, points, p, q, key, params, meters_per_asset_unit) -> np.ndarray:
    """bool (N,): the key's visible surface breaks somewhere on the uv segment between pixel centres p and q."""
    n = len(key)
    pair = np.arange(n)
    s_a, s_b = np.zeros(n), np.ones(n)
    face_a, face_b, point_a, point_b = face[p], face[q], points[p], points[q]
    broken = np.zeros(n, bool)
    tolerance = params.contact_tol_m / meters_per_asset_unit
    for level in range(params.max_bisections + 1):
        closed = caster.faces_touch(face_a, face_b) | (np.linalg.norm(point_a - point_b, axis=-1) <= tolerance)
        open_ = ~closed & ~broken[pair]
        if not open_.any():
            break
        if level == params.max_bisections:
            broken[pair[open_]] = True
            break
        pair, s_a, s_b, face_a, face_b, point_a, point_b = (
            a[open_] for a in (pair, s_a, s_b, face_a, face_b, point_a, point_b))
        s_mid = 0.5 * (s_a + s_b)
        uv_mid = uv[p][pair] + s_mid[:, None] * (uv[q][pair] - uv[p][pair])
        rays = camera.rays_at_uv(uv_mid[:, 0], uv_mid[:, 1])
        hits = caster.cast_on_keys(rays, key[pair])
        broken[pair[~hits.hit]] = True
        face_mid, point_mid = hits.face, hits.points_asset(rays)
        pair, s_a, s_b = np.concatenate([pair, pair]), np.concatenate([s_a, s_mid]), np.concatenate([s_mid, s_b])
        face_a, face_b = np.concatenate([face_a, face_mid]), np.concatenate([face_mid, face_b])
        point_a, point_b = np.concatenate([point_a, point_mid]), np.concatenate([point_mid, point_b])
    return broken
