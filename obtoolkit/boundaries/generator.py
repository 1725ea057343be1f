"""The default occlusion-boundary generator (spec §6.1-6.3): arrays + LabelParams in, OcclusionLabels out.

Pure: no file is read or written here. `compute_labels` takes one frame's geometry and the scene's camera matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from obtoolkit._checks import check_array, check_same_hw
from obtoolkit.boundaries import kernels, p2orm
from obtoolkit.boundaries._neighbours import pairs_to_order
from obtoolkit.boundaries.keys import object_keys
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


@dataclass(frozen=True, eq=False)
class FrameInputs:
    """One frame's geometry.

    Attributes:
        distance_m: float (H, W) Euclidean distance along the ray (Hypersim depth_meters), metres; any value where
            `valid_mask` is False (NaN allowed there).
        valid_mask: bool (H, W): pixels with geometry.
        M_cam_from_uv: float (3, 3) the scene's camera matrix (exact rays; tilt-shift aware).
        normal_cam: float (H, W, 3) Hypersim camera-frame normals (may be NaN, zero, non-unit or inward), or None.
        semantic, semantic_instance, render_entity_id: int (H, W) id maps (-1 = none), or None (no instance rule).
    """

    distance_m: np.ndarray
    valid_mask: np.ndarray
    M_cam_from_uv: np.ndarray
    normal_cam: np.ndarray | None = None
    semantic: np.ndarray | None = None
    semantic_instance: np.ndarray | None = None
    render_entity_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_array("distance_m", self.distance_m, shape=(None, None), kind="f")
        check_array("valid_mask", self.valid_mask, shape=(None, None), dtype=bool)
        check_array("M_cam_from_uv", np.asarray(self.M_cam_from_uv), shape=(3, 3))
        check_same_hw("FrameInputs", distance_m=self.distance_m, valid_mask=self.valid_mask,
                      normal_cam=self.normal_cam, semantic=self.semantic, semantic_instance=self.semantic_instance,
                      render_entity_id=self.render_entity_id)

    @property
    def shape_hw(self) -> tuple[int, int]:
        return self.distance_m.shape


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
    inputs: FrameInputs,
    params: LabelParams | None = None,
    rays: FrameRays | None = None,
    self_relations: MeshSelfRelations | None = None,
) -> OcclusionLabels:
    """Occlusion relations, boundaries, instance contours, classes and orientation of one frame.

    Args:
        inputs: the frame's geometry.
        params: generator parameters (default: LabelParams()).
        rays: the camera's rays at this resolution (computed from inputs.M_cam_from_uv when None; pass them to
            reuse one computation across a trajectory).
        self_relations: same-object relations decided on the mesh (mesh-exact mode, `mesh_exact`); they replace
            the tangent-plane test where decided.
    """
    params = LabelParams() if params is None else params
    height, width = inputs.shape_hw
    if rays is None:
        rays = FrameRays.from_camera(inputs.M_cam_from_uv, height, width)
    elif rays.unit.shape[:2] != (height, width):
        raise ValueError(f"rays are for {rays.unit.shape[:2]}, the frame is {(height, width)}")
    valid = inputs.valid_mask
    distance = np.where(valid, inputs.distance_m, 0.0).astype(np.float64)
    points = points_cam_from_distance(distance, rays.unit)
    normals = sanitize_normals(inputs.normal_cam, rays.unit, points, valid, source=params.normal_source,
                               max_disagreement_deg=params.normal_max_disagreement_deg)
    kind, ident = object_keys(valid, inputs.semantic, inputs.semantic_instance, inputs.render_entity_id,
                              stuff_classes=params.stuff_classes, unlabeled_policy=params.unlabeled_policy)
    if self_relations is None:
        override, decided = np.zeros((height, width, 4), np.int8), np.zeros((height, width, 4), bool)
    elif params.p2orm_compat:
        raise ValueError("the mesh-exact mode and p2orm_compat exclude each other")
    else:
        override, decided = self_relations.relation, self_relations.decided
    relation, pair_class, tie = kernels.relations_kernel(
        distance, valid, normals.normals_cam, normals.defined, rays.unit, rays.raw, kind, ident,
        params.tau_abs_m, params.tau_rel, params.diag_len, params.cos_graze_min,
        params.graze_fallback == "zero_order", params.void_policy == "occluder", params.instance_rule,
        params.tie_eps_rel, override, decided,
    )
    if params.p2orm_compat:
        return _compat_labels(inputs, params, normals, relation, pair_class, tie, valid)
    order, relation_class, ob, ob_background, best_class, contour = kernels.assemble_kernel(
        relation, pair_class, tie, valid, params.drop_isolated_spikes, params.tie_policy == "contour_only")
    if params.remove_isolated_pixels:
        ob, ob_background = kernels.drop_isolated(ob), kernels.drop_isolated(ob_background)
    if not params.instance_rule:
        contour = np.zeros_like(ob)
    return _labels(inputs, params, normals.source, order, relation_class, ob, ob_background,
                   np.where(ob, best_class, 0).astype(np.uint8), contour, int(np.count_nonzero(tie)))


def _labels(inputs, params, normal_source, order, relation_class, ob, ob_background, ob_class, contour, n_ties,
            theta_over_pi=None) -> OcclusionLabels:
    theta, p2orm_theta_over_pi = orientation(order, ob, method=params.ori_method, radius=params.ori_radius)
    theta_over_pi = p2orm_theta_over_pi if theta_over_pi is None else theta_over_pi
    ignore = np.zeros_like(inputs.valid_mask)
    if params.ignore_classes and inputs.semantic is not None:
        ignore = inputs.valid_mask & np.isin(inputs.semantic, list(params.ignore_classes))
    return OcclusionLabels(
        order=order, relation_class=relation_class, ob=ob, ob_background=ob_background, ob_class=ob_class,
        instance_contour=contour, target=ob | contour, theta=theta, ori8=encode_ori8(theta_over_pi, ob),
        ori16=encode_ori16(theta), normal_source=normal_source, ignore_mask=ignore, valid_mask=inputs.valid_mask,
        n_ties=n_ties,
    )


def _compat_labels(inputs, params, normals, relation, pair_class, tie, valid) -> OcclusionLabels:
    """P2ORM's relations on the equivalent pinhole (mm, tau = 25 mm), plus instance contours when enabled.

    P2ORM uses normals as given (its plane intersections do not need unit or camera-facing normals), so the raw
    `normal_cam` goes in when normal_source is "normal_cam"; the depth or hybrid sources use the sanitised normals.
    Normals are rotated into P2ORM's camera frame, the OpenGL-oriented frame of the equivalent pinhole (F R_v F).
    """
    height, width = inputs.shape_hw
    pinhole = pinhole_equivalent(inputs.M_cam_from_uv, height, width)
    flip = np.diag([1.0, -1.0, -1.0])
    rotation = flip @ pinhole.R_virtual_from_cam
    given = inputs.normal_cam if (params.normal_source == "normal_cam" and inputs.normal_cam is not None) \
        else normals.normals_cam
    normals_p2orm = given.astype(np.float64) @ rotation.T
    distance_mm = np.where(valid, inputs.distance_m.astype(np.float64), np.nan) * 1000.0
    order = p2orm.occlusion_order(distance_mm, normals_p2orm, pinhole.K_half_pixel(), params.tau_abs_m * 1000.0,
                                  invalid=~valid)
    fg, bg, _ = p2orm.order_to_boundaries(order)
    fg, bg = fg.astype(bool), bg.astype(bool)
    default_order, default_classes, _, _, _, contour = kernels.assemble_kernel(
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
    return _labels(inputs, params, normals.source, order, relation_class, fg, bg, ob_class.astype(np.uint8), contour,
                   int(np.count_nonzero(tie)), theta_over_pi=p2orm.order_to_orientation(order))
