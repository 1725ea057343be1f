"""The worker: `process_frame(frame, context) -> FrameRecord`, and one task per scene-camera.

A worker is a function of its arguments. A bad frame becomes a failed row with its error (naming the file), never a
dead pool. Outputs are a deterministic function of (frame, parameters); a frame whose stats JSON records the same
parameter hash and status ok is skipped, because that JSON is written last.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from obhypersim_build.config import BuildConfig
from obhypersim_build.inputs import INPUTS_KEY, check_rgb_input, finished_record, inputs_key
from obhypersim_build.plan import CameraTask, FrameMeta
from obtoolkit.boundaries import FrameInputs, FrameRays, compute_labels
from obtoolkit.boundaries.keys import object_keys
from obtoolkit.boundaries.mesh_exact import MeshSelfRelations, encode_key, face_keys, mesh_self_relations
from obtoolkit.boundaries.stats import label_stats
from obtoolkit.errors import is_disk_full
from obtoolkit.hypersim import (
    CameraParametersTable,
    CameraTrajectory,
    FrameId,
    HypersimCamera,
    HypersimLayout,
    read_camera_parameters,
    read_camera_trajectory,
    read_frame_geometry,
    read_mesh_annotations,
    read_mesh_geometry,
    read_metadata_nodes,
)
from obtoolkit.labels_io import (
    LabelArrays,
    link_or_copy_input,
    product_relpath,
    read_stats_json,
    write_label_files,
    write_stats_json,
)
from obtoolkit.manifest import STATUS_ERROR, FrameRecord
from obtoolkit.provenance import package_version
from obtoolkit.validation import FrameReport, ValidationGeometry, validate_labels

PARTS_DIR = "manifest.parts"


@dataclass(frozen=True, eq=False)
class CameraContext:
    """What every frame of one scene-camera shares: paths, config, camera and its rays (and, in mesh-exact mode,
    the scene mesh ready for ray casting with the trajectory's poses)."""

    layout: HypersimLayout
    out_root: Path
    config: BuildConfig
    params_hash: str
    camera: HypersimCamera
    rays: FrameRays
    mesh: MeshContext | None = None


@dataclass(frozen=True, eq=False)
class MeshContext:
    caster: object  # obtoolkit.raycast.MeshCaster (not picklable: built inside the worker)
    trajectory: CameraTrajectory


def camera_context(task: CameraTask, hypersim_root: Path, out_root: Path, config: BuildConfig,
                   cameras: CameraParametersTable | None = None) -> CameraContext:
    """Per scene-camera set-up: the camera row (a missing scene is an error naming the CSV), the exact rays and, in
    mesh-exact mode, the scene mesh's ray-casting structure (built once per task) and the keyframe poses.

    `cameras` is the camera CSV as read once by the run (the scene's row is read here when it is None)."""
    layout = HypersimLayout(hypersim_root)
    if cameras is None:
        cameras = read_camera_parameters(config.camera_csv, scenes=[task.scene], max_pixels=config.max_image_pixels)
    camera = cameras.camera(task.scene)
    mesh = None
    if config.mesh_exact:
        from obtoolkit.raycast import MeshCaster

        geometry = read_mesh_geometry(layout, task.scene)
        keys = face_keys(geometry, read_mesh_annotations(layout, task.scene), read_metadata_nodes(layout, task.scene),
                         config.labels)
        mesh = MeshContext(MeshCaster(geometry.vertices_asset, geometry.faces_vi, keys),
                           read_camera_trajectory(layout, task.scene, task.camera))
    return CameraContext(layout, Path(out_root), config, config.params_hash(), camera,
                         FrameRays.from_camera(camera.M_cam_from_uv, camera.height, camera.width), mesh)


def _mesh_self_relations(frame: FrameId, inputs: FrameInputs, context: CameraContext) -> MeshSelfRelations:
    from obtoolkit.raycast import RayCamera

    R, position = context.mesh.trajectory.pose(frame.frame)
    camera = context.camera
    params = context.config.labels
    kind, ident = object_keys(inputs.valid_mask, inputs.semantic, inputs.semantic_instance, inputs.render_entity_id,
                              stuff_classes=params.stuff_classes, unlabeled_policy=params.unlabeled_policy)
    return mesh_self_relations(context.mesh.caster, RayCamera(camera.M_cam_from_uv, R, position, *inputs.shape_hw),
                               camera.meters_per_asset_unit, inputs.distance_m, inputs.valid_mask,
                               encode_key(kind, ident), context.config.mesh)


def process_frame(frame: FrameId, meta: FrameMeta, context: CameraContext) -> FrameRecord:
    """Read, label, validate and write one frame; return its manifest row (status error on any failure).

    A full disk is not the frame's fault: it stops the run (the frame is redone by the next run)."""
    key = inputs_key(context.layout, frame, context.camera)
    done = read_stats_json(context.out_root, frame)
    if (finished := finished_record(done, context.params_hash, key)) is not None:
        return FrameRecord.from_dict(finished)
    base = {"scene": frame.scene, "camera": frame.camera, "frame": frame.frame, "split": meta.split,
            "public": meta.public, "params_hash": context.params_hash, "package_version": package_version()}
    try:
        record = FrameRecord(**base, **_label_frame(frame, context))
    except Exception as error:  # every failure becomes the frame's recorded error
        if is_disk_full(error):
            raise
        message = f"{type(error).__name__}: {error}"
        if not str(error):
            message += " at " + traceback.format_exc(limit=-1).strip().splitlines()[-2].strip()
        record = FrameRecord(**base, status=STATUS_ERROR, error=message)
    record = FrameRecord(**{**record.as_dict(), "stats_path": product_relpath(frame, "stats")})
    write_stats_json(context.out_root, frame, {**record.as_dict(), INPUTS_KEY: key})
    return record


def _label_frame(frame: FrameId, context: CameraContext) -> dict:
    camera, config = context.camera, context.config
    check_rgb_input(context.layout.tonemap_path(frame), camera.shape_hw, config.max_image_pixels,
                    what=f"tonemap of {frame}")
    geometry = read_frame_geometry(context.layout, frame, shape_hw=camera.shape_hw)
    inputs = FrameInputs(geometry.distance_m, geometry.valid_mask, camera.M_cam_from_uv, geometry.normal_cam,
                         geometry.semantic, geometry.semantic_instance, geometry.render_entity_id)
    self_relations = _mesh_self_relations(frame, inputs, context) if context.mesh is not None else None
    labels = compute_labels(inputs, config.labels, context.rays, self_relations)
    arrays = LabelArrays.from_labels(labels)
    report = _validate(arrays, inputs, context) if config.validate else None
    paths = write_label_files(context.out_root, frame, arrays)
    rgb = link_or_copy_input(context.layout.tonemap_path(frame), context.out_root, frame, "tonemap", config.inputs)
    depth = link_or_copy_input(context.layout.geometry_path(frame, "depth_meters"), context.out_root, frame,
                               "depth_hdf5", config.inputs)
    fields = {"rgb_path": rgb, "depth_path": depth, **{f"{product}_path": path for product, path in paths.items()}}
    fields.update({f"{name}_hash": digest for name, digest in arrays.content_hashes().items()})
    fields.update(label_stats(labels).as_dict())
    failed = report is not None and report.failed
    fields.update(validation_failed=failed if report is not None else None,
                  validation_warnings=",".join(c.name for c in report.warnings) if report is not None else None)
    if failed and config.on_validation_error == "fail":
        bad = [c.name for c in report.checks if not c.passed and c.severity == "error" and not c.skipped]
        fields.update(status=STATUS_ERROR, error=f"label validation failed: {', '.join(bad)}")
    return fields


def _validate(arrays: LabelArrays, inputs: FrameInputs, context: CameraContext) -> FrameReport:
    geometry = ValidationGeometry(inputs.distance_m, inputs.valid_mask, inputs.M_cam_from_uv, inputs.normal_cam,
                                  inputs.semantic, inputs.semantic_instance, inputs.render_entity_id,
                                  rays_unit=context.rays.unit)
    return validate_labels(arrays, geometry, context.config.labels, thresholds=context.config.validation,
                           mesh_exact=context.config.mesh_exact)


def run_camera_task(task: CameraTask, hypersim_root: Path, out_root: Path, config: BuildConfig,
                    cameras: CameraParametersTable | None = None,
                    before_frame: Callable[[], None] | None = None) -> list[FrameRecord]:
    """One scene-camera: set up once, process every frame, write this task's manifest part; returns the rows.

    `before_frame`, when given, is called before each frame (it raises to stop the task: see watchdog.py)."""
    from obtoolkit.manifest import records_to_table, write_table

    try:
        context = camera_context(task, hypersim_root, out_root, config, cameras)
    except Exception as error:  # a broken camera fails its frames, not the run
        message = f"{type(error).__name__}: {error}"
        records = [FrameRecord(task.scene, task.camera, f, m.split, m.public, STATUS_ERROR, message,
                               params_hash=config.params_hash(), package_version=package_version())
                   for f, m in zip(task.frames, task.meta, strict=True)]
    else:
        records = [process_frame(FrameId(task.scene, task.camera, f), m, context)
                   for f, m in _frames(task, before_frame)]
    write_table(Path(out_root) / PARTS_DIR / f"part-{task.name}.parquet", records_to_table(records))
    return records


def _frames(task: CameraTask, before_frame: Callable[[], None] | None) -> Iterator[tuple[int, FrameMeta]]:
    """(frame, meta) of the task, calling `before_frame` before each."""
    for frame, meta in zip(task.frames, task.meta, strict=True):
        if before_frame is not None:
            before_frame()
        yield frame, meta
