"""The worker: `process_frame(frame, context) -> FrameRecord`, and one task per scene-camera.

A worker is a function of its arguments. A bad frame becomes a failed row with its error (naming the file), never a
dead pool. Outputs are a deterministic function of (frame, parameters); a frame whose stats JSON records the same
parameter hash, the same inputs key (obhypersim_build.inputs) and status ok is skipped, because that JSON is written
last.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from obhypersim_build.config import BuildConfig
from obhypersim_build.inputs import INPUTS_KEY, check_rgb_input, finished_record, inputs_key
from obhypersim_build.plan import CameraTask, FrameMeta
from obtoolkit.boundaries import FrameRays, compute_labels
from obtoolkit.boundaries.keys import ObjectKeys, frame_object_keys
from obtoolkit.boundaries.mesh_exact import MeshSelfRelations, face_keys, mesh_self_relations
from obtoolkit.boundaries.stats import frame_statistics, generator_statistics
from obtoolkit.errors import is_disk_full
from obtoolkit.hypersim import (
    CameraParametersTable,
    CameraTrajectory,
    FrameGeometry,
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
from obtoolkit.products import product, products
from obtoolkit.provenance import package_version
from obtoolkit.validation import FrameReport, validate_labels

PARTS_DIR = "manifest.parts"
# Where each input product of the table comes from in a Hypersim tree.
INPUT_SOURCES = {
    "tonemap": lambda layout, frame: layout.tonemap_path(frame),
    "depth_hdf5": lambda layout, frame: layout.geometry_path(frame, "depth_meters"),
}


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


def _mesh_self_relations(geometry: FrameGeometry, keys: ObjectKeys, context: CameraContext) -> MeshSelfRelations:
    from obtoolkit.raycast import RayCamera

    R, position = context.mesh.trajectory.pose(geometry.frame.frame)
    camera = context.camera
    return mesh_self_relations(context.mesh.caster, RayCamera(camera.M_cam_from_uv, R, position, *geometry.shape_hw),
                               camera.meters_per_asset_unit, geometry, keys, context.config.mesh)


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
        record = FrameRecord.from_dict({**base, **_label_frame(frame, context)})
    except Exception as error:  # every failure becomes the frame's recorded error
        if is_disk_full(error):
            raise
        message = f"{type(error).__name__}: {error}"
        if not str(error):
            message += " at " + traceback.format_exc(limit=-1).strip().splitlines()[-2].strip()
        record = FrameRecord(**base, status=STATUS_ERROR, error=message)
    record = record.replace(**{product("stats").column: product_relpath(frame, "stats")})
    write_stats_json(context.out_root, frame, {**record.as_dict(), INPUTS_KEY: key})
    return record


def _label_frame(frame: FrameId, context: CameraContext) -> dict:
    camera, config = context.camera, context.config
    check_rgb_input(context.layout.tonemap_path(frame), camera.shape_hw, config.max_image_pixels,
                    what=f"tonemap of {frame}")
    geometry = read_frame_geometry(context.layout, frame, camera=camera)
    keys = frame_object_keys(geometry, config.labels)
    self_relations = _mesh_self_relations(geometry, keys, context) if context.mesh is not None else None
    labels = compute_labels(geometry, config.labels, context.rays, self_relations, keys)
    arrays = LabelArrays.from_labels(labels)
    report = _validate(arrays, geometry, context) if config.validate else None
    paths = write_label_files(context.out_root, frame, arrays)
    for entry in products("input"):
        paths[entry.name] = link_or_copy_input(INPUT_SOURCES[entry.name](context.layout, frame), context.out_root,
                                               frame, entry.name, config.inputs)
    fields = {product(name).column: path for name, path in paths.items()}
    fields.update({f"{key}_hash": digest for key, digest in arrays.content_hashes().items()})
    fields.update(frame_statistics(arrays.arrays, geometry.finite_depth_mask))
    fields.update(generator_statistics(labels))
    failed = report is not None and report.failed
    fields.update(validation_failed=failed if report is not None else None,
                  validation_warnings=",".join(c.name for c in report.warnings) if report is not None else None)
    if failed and config.on_validation_error == "fail":
        bad = [c.name for c in report.checks if not c.passed and c.severity == "error" and not c.skipped]
        fields.update(status=STATUS_ERROR, error=f"label validation failed: {', '.join(bad)}")
    return fields


def _validate(arrays: LabelArrays, geometry: FrameGeometry, context: CameraContext) -> FrameReport:
    return validate_labels(arrays, geometry, context.config.labels, rays_unit=context.rays.unit,
                           thresholds=context.config.validation, mesh_exact=context.config.mesh_exact)


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
