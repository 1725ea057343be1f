"""Writing files in Hypersim's exact layout and formats (the only writer of Hypersim-format files).

Geometry and final images: one HDF5 per frame and modality with a single dataset named "dataset", gzip level 9,
chunked (Hypersim's depth files use (96, 128) chunks at 768x1024), no timestamps so that the same content gives
byte-identical files. Ids are int16 with -1, depth float16 with NaN where nothing was hit. Every write is atomic.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from obtoolkit.fileio import atomic_path, atomic_write_text
from obtoolkit.hypersim.h5 import DATASET_KEY
from obtoolkit.hypersim.layout import (
    CAMERA_PARAMETERS_CSV,
    FINAL_MODALITIES,
    GEOMETRY_MODALITIES,
    SPLIT_CSV,
    FrameId,
    HypersimLayout,
)
from obtoolkit.hypersim.metadata import NODE_COLUMNS, SPLIT_COLUMNS

JPEG_QUALITY = 95


def write_hdf5_dataset(path: str | Path, array: np.ndarray, *, chunks: tuple[int, ...] | None = None) -> None:
    """Write `array` as Hypersim does: one dataset named "dataset", gzip 9; atomic and deterministic."""
    array = np.ascontiguousarray(array)
    if chunks is None and array.ndim >= 2 and array.size >= 4096:
        chunks = (min(96, array.shape[0]), min(128, array.shape[1])) + array.shape[2:]
    with atomic_path(path) as tmp, h5py.File(tmp, "w", libver="earliest", track_order=False) as handle:
        handle.create_dataset(DATASET_KEY, data=array, compression="gzip" if chunks else None,
                              compression_opts=9 if chunks else None, chunks=chunks, track_times=False)


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


class HypersimWriter:
    """Writes one Hypersim root: per-frame images, per-scene `_detail/` metadata, and the dataset-level CSVs."""

    def __init__(self, root: str | Path):
        self.layout = HypersimLayout(Path(root))

    def write_geometry(self, frame: FrameId, modality: str, array: np.ndarray) -> Path:
        """Write a geometry modality; the array must already have Hypersim's stored dtype (float16 / int16)."""
        spec = GEOMETRY_MODALITIES[modality]
        self._check_dtype(modality, array, spec.stored_dtype)
        path = self.layout.geometry_path(frame, modality)
        write_hdf5_dataset(path, array)
        return path

    def write_final(self, frame: FrameId, modality: str, array: np.ndarray) -> Path:
        self._check_dtype(modality, array, FINAL_MODALITIES[modality].stored_dtype)
        path = self.layout.final_path(frame, modality)
        write_hdf5_dataset(path, array)
        return path

    def write_tonemap(self, frame: FrameId, rgb: np.ndarray) -> Path:
        """Write the sRGB preview `frame.IIII.tonemap.jpg` from uint8 (H, W, 3)."""
        self._check_dtype("tonemap", rgb, "uint8")
        path = self.layout.tonemap_path(frame)
        with atomic_path(path) as tmp:
            Image.fromarray(rgb, "RGB").save(tmp, "JPEG", quality=JPEG_QUALITY)
        return path

    @staticmethod
    def _check_dtype(name: str, array: np.ndarray, dtype: str) -> None:
        if array.dtype != np.dtype(dtype):
            raise ValueError(f"{name}: Hypersim stores {dtype}, got {array.dtype}")

    def write_camera_trajectory(
        self, scene: str, camera: str, positions_asset: np.ndarray, R_world_from_cam: np.ndarray,
        look_at_asset: np.ndarray, frame_time_seconds: float = 1.0 / 30.0,
    ) -> None:
        """Write `_detail/cam_XX/` keyframe files (float64 positions (N, 3), orientations (N, 3, 3), ...)."""
        folder = self.layout.camera_detail_dir(scene, camera)
        write_hdf5_dataset(folder / "camera_keyframe_positions.hdf5", np.asarray(positions_asset, np.float64))
        write_hdf5_dataset(folder / "camera_keyframe_orientations.hdf5", np.asarray(R_world_from_cam, np.float64))
        write_hdf5_dataset(folder / "camera_keyframe_look_at_positions.hdf5", np.asarray(look_at_asset, np.float64))
        write_hdf5_dataset(folder / "camera_keyframe_frame_indices.hdf5", np.arange(len(positions_asset)))
        rows = [["frame_time_seconds", frame_time_seconds]]
        atomic_write_text(folder / "metadata_camera.csv", _csv_text(["parameter_name", "parameter_value"], rows))

    def write_scene_metadata(self, scene: str, meters_per_asset_unit: float, cameras: Sequence[str]) -> None:
        """Write `_detail/metadata_scene.csv` and `_detail/metadata_cameras.csv`."""
        detail = self.layout.detail_dir(scene)
        atomic_write_text(detail / "metadata_scene.csv", _csv_text(
            ["parameter_name", "parameter_value"], [["meters_per_asset_unit", repr(float(meters_per_asset_unit))]]))
        atomic_write_text(detail / "metadata_cameras.csv", _csv_text(["camera_name"], [[c] for c in cameras]))

    def write_nodes(self, scene: str, rows: Iterable[tuple[int, str, int, str]]) -> None:
        """Write `_detail/metadata_nodes.csv` rows (node_id, node_name, object_id, object_name)."""
        atomic_write_text(self.layout.detail_dir(scene) / "metadata_nodes.csv", _csv_text(NODE_COLUMNS, rows))

    def write_mesh_annotations(
        self, scene: str, object_names: Sequence[str], object_semantic: np.ndarray, object_instance: np.ndarray,
        semantic_colors: np.ndarray, instance_colors: np.ndarray,
    ) -> None:
        """Write the public annotation tables of `_detail/mesh/` (si / sii as int64 (N, 1), names, colours)."""
        mesh = self.layout.mesh_dir(scene)
        write_hdf5_dataset(mesh / "mesh_objects_si.hdf5", np.asarray(object_semantic, np.int64).reshape(-1, 1))
        write_hdf5_dataset(mesh / "mesh_objects_sii.hdf5", np.asarray(object_instance, np.int64).reshape(-1, 1))
        atomic_write_text(mesh / "metadata_objects.csv", _csv_text(["object_name"], [[n] for n in object_names]))
        write_hdf5_dataset(mesh / "metadata_semantic_colors.hdf5", np.asarray(semantic_colors, np.int64))
        write_hdf5_dataset(mesh / "metadata_semantic_instance_colors.hdf5", np.asarray(instance_colors, np.int64))

    def write_mesh_geometry(self, scene: str, vertices_asset: np.ndarray, faces_vi: np.ndarray,
                            faces_oi: np.ndarray) -> None:
        """Write `mesh_vertices.hdf5` (float64 (V, 3)), `mesh_faces_vi.hdf5` (int64 (F, 3)), `mesh_faces_oi.hdf5`."""
        mesh = self.layout.mesh_dir(scene)
        write_hdf5_dataset(mesh / "mesh_vertices.hdf5", np.asarray(vertices_asset, np.float64))
        write_hdf5_dataset(mesh / "mesh_faces_vi.hdf5", np.asarray(faces_vi, np.int64))
        write_hdf5_dataset(mesh / "mesh_faces_oi.hdf5", np.asarray(faces_oi, np.int64))

    def write_camera_parameters(self, rows: Iterable[Mapping[str, object]]) -> Path:
        """Write the root `metadata_camera_parameters.csv`; each row maps column name -> value."""
        rows = list(rows)
        header = ["scene_name"] + sorted({k for row in rows for k in row} - {"scene_name"}, key=_camera_column_order)
        path = self.layout.root / CAMERA_PARAMETERS_CSV
        atomic_write_text(path, _csv_text(header, [[row.get(k, "") for k in header] for row in rows]))
        return path

    def write_split(self, rows: Iterable[Sequence[object]]) -> Path:
        """Write the root `metadata_images_split_scene_v1.csv` (columns as in Hypersim's file)."""
        path = self.layout.root / SPLIT_CSV
        atomic_write_text(path, _csv_text(SPLIT_COLUMNS, rows))
        return path


def _camera_column_order(column: str) -> tuple[int, str]:
    first = ("settings_output_img_height", "settings_output_img_width", "settings_units_info_meters_scale")
    if column in first:
        return (0, str(first.index(column)))
    return (2, column) if column.startswith(("M_cam_from_uv", "M_proj")) else (1, column)
