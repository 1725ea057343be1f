"""The default occlusion-boundary generator (spec §6.1-6.3): a frame record + LabelParams in, OcclusionLabels out.

Pure: no file is read or written here. `compute_labels` takes one frame's geometry (`FrameGeometry`, as
`obtoolkit.hypersim.read_frame_geometry` reads it, with the scene's camera matrix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from obtoolkit.boundaries import assemble, kernels, p2orm
from obtoolkit.boundaries._neighbours import pairs_to_order
from obtoolkit.boundaries.keys import ObjectKeys, frame_object_keys
from obtoolkit.boundaries.mesh_exact import MeshSelfRelations
from obtoolkit.boundaries.orientation import encode_ori8, encode_ori16, orientation
from obtoolkit.boundaries.params import LabelParams
from obtoolkit.geometry import (
    camera_rays,
    pinhole_equivalent,
    pixel_centre_uv,
    points_cam_from_distance,
    rays_from_uv,
    sanitize_normals,
)
from obtoolkit.hypersim.frames import FrameGeometry


@dataclass(frozen=True, eq=False)
class FrameRays:
    """Per-pixel rays of a camera at one resolution; compute once per scene and reuse across frames."""

    unit: np.ndarray  # float64 (H, W, 3), unit length
    raw: np.ndarray  # float64 (H, W, 3), M_cam_from_uv @ (u, v, 1)

    @classmethod
    def from_camera(cls, M_cam_from_uv: np.ndarray, height: int, width: int) -> FrameRays:
        u, v = pixel_centre_uv(height, width)
        raw = np.ascontiguousarray(rays_from_uv(M_cam_from_uv, u, v, normalize=False))
        return cls(unit=np.ascontiguousarray(camera_rays(M_cam_from_uv, height, width)), raw=raw)


@dataclass(frozen=True, eq=False)
class OcclusionLabels:
    """Every per-frame product of the generator. Invalid pixels carry no label.

    Attributes:
        order: int8 (H, W, 9) P2ORM layout (channel 0 = any relation; 1-8 = NW, N, NE, W, E, SW, S, SE; +1 = this
            pixel occludes that neighbour). Exactly antisymmetric on pairs of valid pixels (default mode).
        relation_class: uint8 (H, W, 9): class of each relation (0 none, 1 void, 2 inter-object, 3 self-occlusion);
            channel 0 unused (0).
        ob: bool (H, W) occluder-side boundary (sum of relations > 0, isolated pixels removed).
        ob_background: bool (H, W) occluded side (sum < 0), for validation.
        ob_class: uint8 (H, W) class of each `ob` pixel (priority inter-object > self-occlusion > void); 0 elsewhere.
        instance_contour: bool (H, W) occluder side of every inter-object pair (and nearer side of 'contour_only' ties).
        target: bool (H, W) MoDOT's training target, ob | instance_contour.
        theta: float64 (H, W) orientation in (-pi, pi] on `ob` pixels, NaN elsewhere and where undefined.
        ori8: uint8 (H, W) P2ORM encoding (127 off `ob`). ori16: uint16 (H, W) precise encoding (0 = none).
        normal_source: uint8 (H, W) where each normal came from (obtoolkit.geometry.NORMAL_*).
        ignore_mask: bool (H, W) pixels of `ignore_classes`.
        valid_mask: bool (H, W) the input's valid mask.
        n_ties: number of inter-object pairs closer than the tie threshold.
    """

    order: np.ndarray
    relation_class: np.ndarray
    ob: np.ndarray
    ob_background: np.ndarray
    ob_class: np.ndarray
    instance_contour: np.ndarray
    target: np.ndarray
    theta: np.ndarray
    ori8: np.ndarray
    ori16: np.ndarray
    normal_source: np.ndarray
    ignore_mask: np.ndarray
    valid_mask: np.ndarray
    n_ties: int

    def _repr_png_(self) -> bytes:
        """Boundaries by class, instance contours and orientation side by side (`obtoolkit.viz.labels_picture`):
        how a notebook shows the labels."""
        from obtoolkit.viz import labels_picture, png_bytes

        return png_bytes(labels_picture(self.ob_class, self.instance_contour, self.theta, self.ob, self.valid_mask))


def compute_labels(
    frame: FrameGeometry,
    params: LabelParams | None = None,
    rays: FrameRays | None = None,
    self_relations: MeshSelfRelations | None = None,
    keys: ObjectKeys | None = None,
) -> OcclusionLabels:
    """Occlusion relations, boundaries, instance contours, classes and orientation of one frame.

    Args:
        frame: the frame's geometry; its M_cam_from_uv is required.
        params: generator parameters (default: LabelParams()).
        rays: the camera's rays at this resolution (computed from frame.M_cam_from_uv when None; pass them to
            reuse one computation across a trajectory).
        self_relations: same-object relations decided on the mesh (mesh-exact mode, `mesh_exact`); they replace
            the tangent-plane test where decided.
        keys: the frame's object keys under `params` (`frame_object_keys`), when already computed.
    """
    params = LabelParams() if params is None else params
    if frame.M_cam_from_uv is None:
        raise ValueError(f"compute_labels needs the scene's camera matrix (M_cam_from_uv): {frame.frame or 'frame'}")
    height, width = frame.shape_hw
    if rays is None:
        rays = FrameRays.from_camera(frame.M_cam_from_uv, height, width)
    elif rays.unit.shape[:2] != (height, width):
        raise ValueError(f"rays are for {rays.unit.shape[:2]}, the frame is {(height, width)}")
    valid = frame.valid_mask
    distance = np.where(valid, frame.distance_m, 0.0).astype(np.float64)
    points = points_cam_from_distance(distance, rays.unit)
    normals = sanitize_normals(frame.normal_cam, rays.unit, points, valid, source=params.normal_source,
                               max_disagreement_deg=params.normal_max_disagreement_deg)
    kind, ident = frame_object_keys(frame, params) if keys is None else keys
    if self_relations is None:
        override, decided = np.zeros((height, width, 4), np.int8), np.zeros((height, width, 4), bool)
    elif params.p2orm_compat:
        raise ValueError("the mesh-exact mode and p2orm_compat exclude each other")
    else:
        override, decided = self_relations.relation, self_relations.decided
    relation, pair_class, tie = kernels.relations_kernel(
        distance, valid, normals.normals_cam, kernels.normal_kinds(normals.source), rays.unit, rays.raw, kind, ident,
        params.tau_abs_m, params.tau_rel, params.diag_len, params.cos_graze_min,
        params.graze_fallback == "zero_order", params.void_policy == "occluder", params.instance_rule,
        params.tie_eps_rel, params.depth_rel_error if params.layered_test and not params.p2orm_compat else 0.0,
        params.normal_tol_rad, math.cos(math.radians(params.bend_max_deg)), override, decided,
    )
    if params.p2orm_compat:
        return _compat_labels(frame, params, normals, relation, pair_class, tie, valid)
    order, relation_class, ob, ob_background, best_class, contour = assemble.assemble_kernel(
        relation, pair_class, tie, valid, params.drop_isolated_spikes, params.tie_policy == "contour_only")
    if params.remove_isolated_pixels:
        ob, ob_background = assemble.drop_isolated(ob), assemble.drop_isolated(ob_background)
    if not params.instance_rule:
        contour = np.zeros_like(ob)
    return _labels(frame, params, normals.source, order, relation_class, ob, ob_background,
                   np.where(ob, best_class, 0).astype(np.uint8), contour, int(np.count_nonzero(tie)))


def _labels(frame, params, normal_source, order, relation_class, ob, ob_background, ob_class, contour, n_ties,
            theta_over_pi=None) -> OcclusionLabels:
    theta, p2orm_theta_over_pi = orientation(order, ob, method=params.ori_method, radius=params.ori_radius)
    theta_over_pi = p2orm_theta_over_pi if theta_over_pi is None else theta_over_pi
    ignore = np.zeros_like(frame.valid_mask)
    if params.ignore_classes and frame.semantic is not None:
        ignore = frame.valid_mask & np.isin(frame.semantic, list(params.ignore_classes))
    return OcclusionLabels(
        order=order, relation_class=relation_class, ob=ob, ob_background=ob_background, ob_class=ob_class,
        instance_contour=contour, target=ob | contour, theta=theta, ori8=encode_ori8(theta_over_pi, ob),
        ori16=encode_ori16(theta), normal_source=normal_source, ignore_mask=ignore, valid_mask=frame.valid_mask,
        n_ties=n_ties,
    )


def _compat_labels(frame, params, normals, relation, pair_class, tie, valid) -> OcclusionLabels:
    """P2ORM's relations on the equivalent pinhole (mm, tau = 25 mm), plus instance contours when enabled.

    P2ORM uses normals as given (its plane intersections do not need unit or camera-facing normals), so the raw
    `normal_cam` goes in when normal_source is "normal_cam"; the depth or hybrid sources use the sanitised normals.
    Normals are rotated into P2ORM's camera frame, the OpenGL-oriented frame of the equivalent pinhole (F R_v F).
    """
    height, width = frame.shape_hw
    pinhole = pinhole_equivalent(frame.M_cam_from_uv, height, width)
    flip = np.diag([1.0, -1.0, -1.0])
    rotation = flip @ pinhole.R_virtual_from_cam
    given = frame.normal_cam if (params.normal_source == "normal_cam" and frame.normal_cam is not None) \
        else normals.normals_cam
    normals_p2orm = given.astype(np.float64) @ rotation.T
    distance_mm = np.where(valid, frame.distance_m.astype(np.float64), np.nan) * 1000.0
    order = p2orm.occlusion_order(distance_mm, normals_p2orm, pinhole.K_half_pixel(), params.tau_abs_m * 1000.0,
                                  invalid=~valid)
    fg, bg, _ = p2orm.order_to_boundaries(order)
    fg, bg = fg.astype(bool), bg.astype(bool)
    default_order, default_classes, _, _, _, contour = assemble.assemble_kernel(
        relation, pair_class, tie, valid, params.drop_isolated_spikes, params.tie_policy == "contour_only")
    # each P2ORM relation is inter-object where the two pixels' object keys differ, else a self-occlusion
    inter = np.zeros_like(default_classes)
    inter[..., 1:] = pairs_to_order((pair_class == kernels.CLASS_INTER).astype(np.int8))[..., 1:] != 0
    relation_class = np.where(order != 0, np.where(inter > 0, kernels.CLASS_INTER, kernels.CLASS_SELF), 0)
    relation_class[..., 0] = 0
    relation_class = relation_class.astype(np.uint8)
    occluding = order[..., 1:] == 1
    ob_class = np.where(np.any(occluding & (relation_class[..., 1:] == kernels.CLASS_INTER), axis=-1),
                        kernels.CLASS_INTER, kernels.CLASS_SELF).astype(np.uint8) * fg
    if not params.instance_rule:
        contour = np.zeros_like(fg)
    return _labels(frame, params, normals.source, order, relation_class, fg, bg, ob_class.astype(np.uint8), contour,
                   int(np.count_nonzero(tie)), theta_over_pi=p2orm.order_to_orientation(order))
