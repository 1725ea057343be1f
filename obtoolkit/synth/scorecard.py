"""Per-family agreement of the label modes with the mesh references: the table of docs/labels.md.

For each scene family (`obtoolkit.synth.families`) a few seeded scenes are built and cast in memory (no files: the
geometry arrays are exactly those `render_frame` writes, in Hypersim's float16 / int16, turned into the frame record
by `obtoolkit.hypersim.frame_geometry` as the reader does), their reference boundaries are computed from the meshes,
and each label mode is scored with `Agreement` (1-px tolerance; contacts, ties and steps below float16 precision are
don't-care; void boundaries are left out, as the default void policy labels none).

Modes: "default" (`LabelParams()`), "mesh_exact" (the default with same-object pairs decided on the mesh) and
"p2orm" (`P2ORM_COMPAT`: P2ORM's own algorithm, bit-exact; its `ob` is scored, without instance contours).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from obtoolkit.boundaries import P2ORM_COMPAT, FrameRays, LabelParams, compute_labels
from obtoolkit.boundaries.keys import frame_object_keys
from obtoolkit.boundaries.mesh_exact import MeshExactParams, face_keys, mesh_self_relations
from obtoolkit.hypersim.frames import frame_geometry
from obtoolkit.hypersim.metadata import NODE_COLUMNS, MeshAnnotations, MeshGeometry
from obtoolkit.raycast import MeshCaster, RayCamera
from obtoolkit.synth.agreement import Agreement
from obtoolkit.synth.cameras import ALL_CAMERA_MODELS, camera_matrix
from obtoolkit.synth.families import FAMILIES, family_scene
from obtoolkit.synth.generate import synthetic_scene_name
from obtoolkit.synth.reference import compute_reference, object_keys
from obtoolkit.synth.render import render_label_geometry
from obtoolkit.synth.scene import SyntheticScene

MODES = ("default", "mesh_exact", "p2orm")
FIGURES = ("f_score", "precision", "recall", "self_recall", "side_accuracy", "orientation_accuracy")


@dataclass
class FamilyScore:
    """One family's agreement per mode (sufficient statistics, so scores of several runs add up)."""

    family: str
    frames: int = 0
    modes: dict[str, Agreement] = field(default_factory=dict)


def score_family(family: str, *, scenes: int = 4, frames: int = 2, seed: int = 0, height: int = 768,
                 width: int = 1024, modes: Sequence[str] = MODES, params: LabelParams | None = None,
                 mesh_params: MeshExactParams | None = None,
                 progress: Callable[[str], None] | None = None) -> FamilyScore:
    """Agreement of each label mode with the mesh references on `scenes` scenes x `frames` frames of a family.

    Scene k is `family_scene(family, k, seed, ...)` (camera ALL_CAMERA_MODELS[k % 3], unit ASSET_UNITS[k % 4]) and
    its frames are the first trajectory `make_synthetic_dataset` would draw (cam_00). `params` replaces the default
    mode's (and mesh-exact mode's) LabelParams.
    """
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise ValueError(f"unknown modes {unknown}; known: {MODES}")
    params = LabelParams() if params is None else params
    score = FamilyScore(family, modes={mode: Agreement() for mode in modes})
    for k in range(scenes):
        scene = family_scene(family, k, seed, synthetic_scene_name(k), ALL_CAMERA_MODELS)
        for geometry, reference, label_caster, camera in _frames(scene, k, seed, frames, height, width, params,
                                                                 "mesh_exact" in modes):
            distance = np.where(geometry.valid_mask, geometry.distance_m, np.nan)
            rays = FrameRays.from_camera(geometry.M_cam_from_uv, height, width)
            for mode in modes:
                labels = _labels(mode, geometry, rays, params, label_caster, camera, scene, mesh_params)
                score.modes[mode].update(labels.order, labels.ob, labels.theta, reference, distance,
                                         params.tie_eps_rel, include_void=False)
            score.frames += 1
            if progress is not None:
                progress(f"{family} {scene.name} ({scene.camera_model}, {scene.meters_per_asset_unit:g} m/unit)")
    return score


def _frames(scene: SyntheticScene, index: int, seed: int, frames: int, height: int, width: int,
            params: LabelParams, mesh_exact: bool):
    """(frame record, reference, label caster or None, camera) for each frame of the scene's first trajectory."""
    mesh = scene.scene_mesh()
    caster = MeshCaster(mesh.vertices_asset, mesh.faces_vi,
                        object_keys(scene.object_semantic, scene.object_instance, scene.node_ids)[mesh.faces_oi])
    label_caster = None
    if mesh_exact:
        annotations = MeshAnnotations(scene.object_semantic, scene.object_instance, [o.name for o in scene.objects],
                                      None, None)
        nodes = pd.DataFrame(scene.node_rows(), columns=list(NODE_COLUMNS))
        keys = face_keys(MeshGeometry(mesh.vertices_asset, mesh.faces_vi, mesh.faces_oi), annotations, nodes, params)
        label_caster = MeshCaster(mesh.vertices_asset, mesh.faces_vi, keys)
    M = camera_matrix(scene.camera_model, height, width)
    trajectory = scene.trajectory(np.random.default_rng([seed, index, 1]), frames, M)
    for f in range(frames):
        camera = RayCamera(M, trajectory.R_world_from_cam[f], trajectory.positions_asset[f], height, width)
        hits = caster.cast(camera.pixel_rays())
        geometry = frame_geometry(render_label_geometry(scene, mesh, camera, hits), M_cam_from_uv=M)
        reference = compute_reference(caster, camera, mesh.faces_oi, scene.meters_per_asset_unit, hits=hits)
        yield geometry, reference, label_caster, camera


def _labels(mode, geometry, rays, params, label_caster, camera, scene, mesh_params):
    if mode == "p2orm":
        return compute_labels(geometry, P2ORM_COMPAT, rays)
    if mode == "default":
        return compute_labels(geometry, params, rays)
    keys = frame_object_keys(geometry, params)
    relations = mesh_self_relations(label_caster, camera, scene.meters_per_asset_unit, geometry, keys, mesh_params)
    return compute_labels(geometry, params, rays, relations, keys)


def score_table(scores: Sequence[FamilyScore]) -> pd.DataFrame:
    """One row per (family, mode): whether the family was used for tuning, frames, and FIGURES."""
    rows = []
    for score in scores:
        for mode, agreement in score.modes.items():
            summary = agreement.summary()
            rows.append({"family": score.family, "tuned_on": FAMILIES[score.family].tuning, "mode": mode,
                         "frames": score.frames, **{name: summary[name] for name in FIGURES},
                         "dont_care": summary["dont_care_fraction"]})
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """The score table as a Markdown table (figures with 3 decimals)."""
    header = ["family", "tuned on", "mode", "frames", "F", "precision", "recall", "self recall", "side", "orientation",
              "don't care"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.itertuples(index=False):
        figures = [f"{getattr(row, name):.3f}" for name in (*FIGURES, "dont_care")]
        lines.append("| " + " | ".join([row.family, "yes" if row.tuned_on else "**held out**", row.mode,
                                        str(row.frames), *figures]) + " |")
    return "\n".join(lines)
