"""Parameters of the occlusion-boundary generator (spec hypersim_and_labels.md §6.4), with their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# NYU40 ids of Hypersim's "stuff": wall, floor, ceiling (semantic_instance is -1 on all of them).
NYU40_STUFF = frozenset({1, 2, 22})


@dataclass(frozen=True)
class LabelParams:
    """How occlusion relations, boundaries and orientation are derived from one frame's geometry.

    Distances are Euclidean distances along the rays, in metres.

    Attributes:
        tau_abs_m: absolute depth-discontinuity threshold (P2ORM's 25 mm).
        tau_rel: relative threshold; tau = max(tau_abs_m, tau_rel * min(D_p, D_q)). About 2 float16 ulps by default
            (guards against float16 quantisation and grazing angles); 0 reproduces P2ORM.
        diag_len: pixel distance of diagonal neighbours (P2ORM's 1.414).
        normal_source: "normal_cam" (Hypersim's normals, depth normals where unusable), "depth" or "hybrid" (also
            depth normals where the two disagree by more than normal_max_disagreement_deg).
        normal_max_disagreement_deg: hybrid mode only.
        cos_graze_min: a ray-plane intersection is undefined when |n . ray| is below this (about 87 degrees), for
            the tau test and the inter-object rule.
        layered_test: same-object pairs are also self-occlusions when p's tangent plane lies in front of q's along
            p's ray, q's ray and the mid ray by more than the data's uncertainty (depth_rel_error and
            normal_tol_rad), however small the step: a frame's moulding 8 mm proud of its canvas, a handle before
            its drawer, a panel on a wall, seen at any angle short of parallel.
        depth_rel_error: relative rounding error of the stored depth (float16: at most 2^-11 of the value).
        normal_tol_rad: angular error allowed to the normals in the layered test; also how parallel two layers must
            be for a step below tau.
        bend_max_deg: below tau, two pixels whose normals differ by more than normal_tol_rad and less than this are
            taken as one bending surface, never as layers (shading normals of a faceted curved mesh stray from its
            facets by as much as such a step); steeper pairs (a bar's side before a drawer) keep the layered test.
        graze_fallback: "strict" (undefined -> no geometric relation) or "zero_order" (sign of the depth step when it
            exceeds 4 tau).
        void_policy: "ignore" (no relation between a valid pixel and a pixel without geometry) or "occluder" (the
            valid pixel occludes, like P2ORM's InteriorNet treatment of missing depth).
        instance_rule: inter-object pairs are ordered by depth even below tau (instance contours); False gives the
            purely geometric P2ORM relations everywhere.
        stuff_classes: NYU40 classes that form one "stuff" object (no contours between them).
        unlabeled_policy: pixels with no instance and a non-stuff class become their own render-node object ("node")
            or join the stuff ("stuff").
        tie_eps_rel: inter-object pairs closer than tie_eps_rel * min(D_p, D_q) are ties (coplanar or touching).
        tie_policy: "skip" (ties carry nothing) or "contour_only" (the nearer pixel is marked in the instance contour,
            with no relation and no orientation).
        drop_isolated_spikes: a pixel that occludes or is occluded by all 8 neighbours loses those relations, on both
            sides of each pair (antisymmetry is kept).
        remove_isolated_pixels: an occluder pixel with no other occluder pixel in its 3x3 window is dropped.
        ori_method: "p2orm" (P2ORM's clipped 8-direction vector sum) or "smoothed" (occluder->occluded vectors
            averaged over occluder pixels within ori_radius px).
        ori_radius: smoothed mode only.
        ignore_classes: NYU40 classes (e.g. 9 window, 19 mirror) reported in an ignore mask; labels are unchanged.
        p2orm_compat: reproduce P2ORM exactly (its quirks, K-rays of the equivalent pinhole, tau in millimetres, its
            isolated-pixel filter); the instance rule still adds instance contours when enabled.
    """

    tau_abs_m: float = 0.025
    tau_rel: float = 0.002
    diag_len: float = 1.414
    normal_source: Literal["normal_cam", "depth", "hybrid"] = "normal_cam"
    normal_max_disagreement_deg: float = 60.0
    cos_graze_min: float = 0.05
    layered_test: bool = True
    depth_rel_error: float = 2.0 ** -11
    normal_tol_rad: float = 0.01
    bend_max_deg: float = 60.0
    graze_fallback: Literal["strict", "zero_order"] = "strict"
    void_policy: Literal["ignore", "occluder"] = "ignore"
    instance_rule: bool = True
    stuff_classes: frozenset[int] = NYU40_STUFF
    unlabeled_policy: Literal["node", "stuff"] = "node"
    tie_eps_rel: float = 0.002
    tie_policy: Literal["skip", "contour_only"] = "skip"
    drop_isolated_spikes: bool = True
    remove_isolated_pixels: bool = True
    ori_method: Literal["p2orm", "smoothed"] = "p2orm"
    ori_radius: int = 2
    ignore_classes: frozenset[int] = frozenset()
    p2orm_compat: bool = False

    def __post_init__(self) -> None:
        checks = {
            "tau_abs_m": self.tau_abs_m > 0, "tau_rel": self.tau_rel >= 0, "diag_len": self.diag_len > 0,
            "cos_graze_min": 0 <= self.cos_graze_min < 1, "tie_eps_rel": self.tie_eps_rel >= 0,
            "ori_radius": self.ori_radius >= 1, "depth_rel_error": 0 <= self.depth_rel_error < 0.1,
            "normal_tol_rad": 0 <= self.normal_tol_rad < 1.5, "bend_max_deg": 0 <= self.bend_max_deg <= 180,
            "normal_max_disagreement_deg": 0 < self.normal_max_disagreement_deg <= 180,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"LabelParams: invalid value(s) for {', '.join(bad)}")


P2ORM_COMPAT = LabelParams(tau_rel=0.0, p2orm_compat=True)
