"""Write synthetic Hypersim scenes: images, `_detail/` metadata, meshes, dataset CSVs and reference boundaries.

Scene k (0-based) is drawn from `numpy.random.default_rng([seed, k])`, so it does not depend on how many scenes are
generated, and the same arguments give byte-identical files. Scenes are named `ai_9VV_NNN` (volume 900 upwards: the
pattern Hypersim's reader requires, in volumes the real dataset does not have).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from obtoolkit.hypersim.layout import FrameId
from obtoolkit.raycast import MeshCaster, RayCamera
from obtoolkit.synth.cameras import ALL_CAMERA_MODELS, CAMERA_MODELS, camera_csv_row, camera_matrix
from obtoolkit.synth.families import FAMILIES, family_scene
from obtoolkit.synth.reference import (
    DEFAULT_PARAMS,
    ReferenceParams,
    compute_reference,
    object_keys,
    write_reference,
)
from obtoolkit.synth.render import RenderedFrame, render_frame
from obtoolkit.synth.scene import SceneMesh, SyntheticScene
from obtoolkit.synth.writer import HypersimWriter

FIRST_VOLUME = 900
SCENES_PER_VOLUME = 999
HYPERSIM_HEIGHT, HYPERSIM_WIDTH = 768, 1024
_SPLIT_STREAM = 1_000_003  # the split's random stream, apart from the scenes' [seed, k] streams
_SEMANTIC_COLOR_SEED, _INSTANCE_COLOR_SEED = 40, 41


def synthetic_scene_name(index: int) -> str:
    """Name of the 0-based `index`-th synthetic scene: ai_900_001, ai_900_002, ..., ai_900_999, ai_901_001, ..."""
    if not 0 <= index < (1000 - FIRST_VOLUME) * SCENES_PER_VOLUME:
        raise ValueError(f"scene index {index} out of range")
    return f"ai_{FIRST_VOLUME + index // SCENES_PER_VOLUME:03d}_{index % SCENES_PER_VOLUME + 1:03d}"


def make_synthetic_dataset(
    out_root: str | Path,
    *,
    scenes: int = 1,
    frames: int = 3,
    seed: int = 0,
    height: int = HYPERSIM_HEIGHT,
    width: int = HYPERSIM_WIDTH,
    cameras: int = 2,
    camera_models: Sequence[str] = CAMERA_MODELS,
    families: Sequence[str] = ("room",),
    reference_params: ReferenceParams = DEFAULT_PARAMS,
    progress: Callable[[FrameId], None] | None = None,
) -> list[str]:
    """Generate `scenes` synthetic scenes under `out_root` in Hypersim's layout; returns the scene names.

    Args:
        out_root: the Hypersim root to write (created if needed; existing files of the same scenes are replaced).
        scenes: number of scenes.
        frames: keyframes per camera trajectory.
        seed: random seed; the same arguments give byte-identical files.
        height, width: image size in pixels (Hypersim: 768 x 1024; M_cam_from_uv does not depend on it).
        cameras: trajectories per scene (cam_00, cam_01, ...).
        camera_models: camera model of each scene, cycled: scene k uses camera_models[k % len]. Hypersim has one
            M_cam_from_uv per scene, so the default alternates the standard camera and a real tilt-shift one.
        families: scene family of each scene, cycled: scene k is a scene of families[k % len]
            (`obtoolkit.synth.families.FAMILIES`; the default is the original furnished room).
        reference_params: parameters of the reference boundaries.
        progress: called with each frame once it is written.
    """
    if scenes < 1 or frames < 1 or cameras < 1 or height < 2 or width < 2:
        raise ValueError(f"need scenes, frames, cameras >= 1 and an image of at least 2x2, got scenes={scenes}, "
                         f"frames={frames}, cameras={cameras}, {width}x{height}")
    unknown = sorted(set(camera_models) - set(ALL_CAMERA_MODELS))
    if not camera_models or unknown:
        raise ValueError(f"camera_models must be a non-empty sequence of {ALL_CAMERA_MODELS}, got "
                         f"{list(camera_models)}")
    unknown = sorted(set(families) - set(FAMILIES))
    if not families or unknown:
        raise ValueError(f"families must be a non-empty sequence of {sorted(FAMILIES)}, got {list(families)}")
    writer = HypersimWriter(out_root)
    names = [synthetic_scene_name(k) for k in range(scenes)]
    camera_names = [f"cam_{c:02d}" for c in range(cameras)]
    rows = []
    for k, name in enumerate(names):
        scene = family_scene(families[k % len(families)], k, seed, name, tuple(camera_models))
        rows.append(generate_scene(writer, scene, np.random.default_rng([seed, k, 1]), camera_names=camera_names,
                                   frames=frames, height=height, width=width, reference_params=reference_params,
                                   progress=progress))
    writer.write_camera_parameters(rows)
    writer.write_split(split_rows(names, camera_names, frames, seed))
    return names


def generate_scene(writer: HypersimWriter, scene: SyntheticScene, rng: np.random.Generator, *,
                   camera_names: Sequence[str], frames: int, height: int, width: int,
                   reference_params: ReferenceParams = DEFAULT_PARAMS,
                   progress: Callable[[FrameId], None] | None = None) -> dict:
    """Write one scene (tables, meshes, trajectories drawn from `rng`, frames, references); returns its CSV row."""
    mesh = scene.scene_mesh()
    write_scene_tables(writer, scene, mesh, camera_names)
    keys = object_keys(scene.object_semantic, scene.object_instance, scene.node_ids)
    caster = MeshCaster(mesh.vertices_asset, mesh.faces_vi, keys[mesh.faces_oi])
    M = camera_matrix(scene.camera_model, height, width)
    for camera_name in camera_names:
        trajectory = scene.trajectory(rng, frames, M)
        writer.write_camera_trajectory(scene.name, camera_name, trajectory.positions_asset,
                                       trajectory.R_world_from_cam, trajectory.look_at_asset)
        for index in range(frames):
            frame = FrameId(scene.name, camera_name, index)
            camera = RayCamera(M, trajectory.R_world_from_cam[index], trajectory.positions_asset[index], height,
                               width)
            hits = caster.cast(camera.pixel_rays())
            write_frame(writer, frame, render_frame(scene, mesh, caster, camera, hits))
            reference = compute_reference(caster, camera, mesh.faces_oi, scene.meters_per_asset_unit,
                                          reference_params, hits)
            write_reference(writer.layout.root, frame, reference, reference_params)
            if progress is not None:
                progress(frame)
    return camera_csv_row(scene.name, scene.camera_model, height, width, scene.meters_per_asset_unit)


def write_scene_tables(writer: HypersimWriter, scene: SyntheticScene, mesh: SceneMesh,
                       camera_names: Sequence[str]) -> None:
    """`_detail/metadata_{scene,cameras,nodes}.csv` and `_detail/mesh/` annotation and geometry files."""
    writer.write_scene_metadata(scene.name, scene.meters_per_asset_unit, camera_names)
    writer.write_nodes(scene.name, scene.node_rows())
    names = [o.name for o in scene.objects]
    n_instances = int(scene.object_instance.max())
    writer.write_mesh_annotations(scene.name, names, scene.object_semantic, scene.object_instance,
                                  preview_colors(40, seed=_SEMANTIC_COLOR_SEED),
                                  preview_colors(n_instances, seed=_INSTANCE_COLOR_SEED))
    writer.write_mesh_geometry(scene.name, mesh.vertices_asset, mesh.faces_vi, mesh.faces_oi)


def preview_colors(count: int, *, seed: int) -> np.ndarray:
    """Colour table int64 (count + 1, 3) as in Hypersim's `metadata_semantic*_colors.hdf5`: row 0 = -1, rows 1..count
    are distinct RGB colours in 0..255 (ids index rows directly)."""
    rng = np.random.default_rng(seed)
    colors = rng.integers(40, 256, (count, 3))
    return np.concatenate([np.full((1, 3), -1), colors]).astype(np.int64)


def write_frame(writer: HypersimWriter, frame: FrameId, rendered: RenderedFrame) -> None:
    """Write every geometry and final HDF5 image and the tone-mapped preview of one frame."""
    for modality, array in rendered.geometry.items():
        writer.write_geometry(frame, modality, array)
    for modality, array in rendered.final.items():
        writer.write_final(frame, modality, array)
    writer.write_tonemap(frame, rendered.tonemap)


def split_rows(scenes: Sequence[str], camera_names: Sequence[str], frames: int, seed: int) -> list[tuple]:
    """Rows of `metadata_images_split_scene_v1.csv`: every frame public, scenes assigned to train / val / test.

    The assignment is a seeded shuffle: with >= 3 scenes, test and val get max(1, round(10 %)) scenes each and train the
    rest; with 2 scenes, one train and one test; with 1 scene, train.
    """
    n = len(scenes)
    order = np.random.default_rng([seed, _SPLIT_STREAM]).permutation(n)
    n_held = max(1, round(0.1 * n)) if n >= 3 else 0
    n_test = n_held if n >= 3 else n - 1
    split = {}
    for rank, k in enumerate(order):
        split[scenes[k]] = "test" if rank < n_test else ("val" if rank < n_test + n_held else "train")
    return [(scene, camera, index, True, "", split[scene])
            for scene in scenes for camera in camera_names for index in range(frames)]
