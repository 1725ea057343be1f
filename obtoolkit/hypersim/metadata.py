"""Hypersim's tables: the official split CSV, per-scene `_detail/` metadata, mesh annotations and mesh geometry."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.hypersim.h5 import read_hdf5_dataset
from obtoolkit.hypersim.layout import HypersimLayout

SPLIT_COLUMNS = (
    "scene_name", "camera_name", "frame_id", "included_in_public_release", "exclude_reason", "split_partition_name",
)
NODE_COLUMNS = ("node_id", "node_name", "object_id", "object_name")


def _read_csv(path: Path, what: str, columns: tuple[str, ...], **kwargs) -> pd.DataFrame:
    if not path.is_file():
        raise MissingFileError(path, what)
    try:
        table = pd.read_csv(path, **kwargs)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise FormatError(path, f"a readable CSV ({what})", str(error)) from error
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise FormatError(path, f"columns {', '.join(missing)} ({what})", f"columns {list(table.columns)}")
    return table


def read_split_csv(path: str | Path) -> pd.DataFrame:
    """Read `metadata_images_split_scene_v1.csv`: one row per frame.

    Returns a DataFrame with columns scene_name (str), camera_name (str), frame_id (int64),
    included_in_public_release (bool), exclude_reason (str or NA), split_partition_name (train / val / test or NA).
    """
    path = Path(path)
    table = _read_csv(path, "Hypersim split CSV", SPLIT_COLUMNS, dtype={"scene_name": str, "camera_name": str})
    try:
        table["frame_id"] = table["frame_id"].astype(np.int64)
        public = table["included_in_public_release"].astype(str).str.lower()
        if not public.isin(["true", "false"]).all():
            raise ValueError("included_in_public_release must be True or False")
        table["included_in_public_release"] = public.eq("true")
    except (ValueError, TypeError) as error:
        raise FormatError(path, "integer frame_id and boolean included_in_public_release", str(error)) from error
    bad = ~table["split_partition_name"].isna() & ~table["split_partition_name"].isin(["train", "val", "test"])
    if bad.any():
        raise FormatError(path, "split_partition_name in train/val/test or empty",
                          f"{table.loc[bad, 'split_partition_name'].unique().tolist()}")
    return table[list(SPLIT_COLUMNS)]


def read_parameter_csv(path: str | Path, what: str) -> dict[str, str]:
    """Read a `parameter_name,parameter_value` CSV (metadata_scene.csv, cam_XX/metadata_camera.csv)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, what)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != ["parameter_name", "parameter_value"]:
            raise FormatError(path, f"header parameter_name,parameter_value ({what})", str(reader.fieldnames))
        return {row["parameter_name"]: row["parameter_value"] for row in reader}


def read_meters_per_asset_unit(layout: HypersimLayout, scene: str) -> float:
    """`meters_per_asset_unit` from `_detail/metadata_scene.csv`."""
    path = layout.detail_dir(scene) / "metadata_scene.csv"
    values = read_parameter_csv(path, f"scene metadata of {scene}")
    try:
        scale = float(values["meters_per_asset_unit"])
    except (KeyError, ValueError) as error:
        raise FormatError(path, "a numeric meters_per_asset_unit row", str(error)) from error
    if not scale > 0:
        raise FormatError(path, "a positive meters_per_asset_unit", str(scale))
    return scale


def read_metadata_cameras(layout: HypersimLayout, scene: str) -> list[str]:
    """Camera names listed in `_detail/metadata_cameras.csv`."""
    path = layout.detail_dir(scene) / "metadata_cameras.csv"
    return _read_csv(path, f"camera list of {scene}", ("camera_name",), dtype=str)["camera_name"].tolist()


def read_metadata_nodes(layout: HypersimLayout, scene: str) -> pd.DataFrame:
    """`_detail/metadata_nodes.csv`: node_id (= render_entity_id) -> object_id (-1 = no object) and names."""
    path = layout.detail_dir(scene) / "metadata_nodes.csv"
    table = _read_csv(path, f"render-entity nodes of {scene}", NODE_COLUMNS,
                      dtype={"node_name": str, "object_name": str}, keep_default_na=False)
    try:
        table["node_id"] = table["node_id"].astype(np.int64)
        table["object_id"] = table["object_id"].astype(np.int64)
    except (ValueError, TypeError) as error:
        raise FormatError(path, "integer node_id and object_id", str(error)) from error
    return table[list(NODE_COLUMNS)]


@dataclass(frozen=True, eq=False)
class MeshAnnotations:
    """Public per-object annotation tables of a scene (`_detail/mesh/`).

    Attributes:
        object_semantic: int64 (N_obj,), NYU40 class per low-level object; -1 = unlabelled.
        object_instance: int64 (N_obj,), semantic-instance id per object; -1 = none.
        object_names: the `object_name` column of metadata_objects.csv (N_obj entries), or None when absent.
        semantic_colors: int64 (41, 3) preview colours per NYU40 id (row 0 is -1), or None.
        instance_colors: int64 (K, 3) preview colours per instance id, or None.
    """

    object_semantic: np.ndarray
    object_instance: np.ndarray
    object_names: list[str] | None
    semantic_colors: np.ndarray | None
    instance_colors: np.ndarray | None


def read_mesh_annotations(layout: HypersimLayout, scene: str) -> MeshAnnotations:
    """Read `mesh_objects_si.hdf5`, `mesh_objects_sii.hdf5`, `metadata_objects.csv` and the colour tables."""
    mesh = layout.mesh_dir(scene)
    si = read_hdf5_dataset(mesh / "mesh_objects_si.hdf5", what=f"object NYU40 labels of {scene}", kind="iu")
    sii = read_hdf5_dataset(mesh / "mesh_objects_sii.hdf5", what=f"object instance ids of {scene}", kind="iu")
    si, sii = _as_column(mesh / "mesh_objects_si.hdf5", si), _as_column(mesh / "mesh_objects_sii.hdf5", sii)
    if si.shape != sii.shape:
        raise FormatError(mesh / "mesh_objects_sii.hdf5", f"{len(si)} objects like mesh_objects_si", str(sii.shape))
    names = None
    if (mesh / "metadata_objects.csv").is_file():
        names = _read_csv(mesh / "metadata_objects.csv", f"object names of {scene}", ("object_name",),
                          dtype=str, keep_default_na=False)["object_name"].tolist()
        if len(names) != len(si):
            raise FormatError(mesh / "metadata_objects.csv", f"{len(si)} object rows", f"{len(names)} rows")
    colors = {}
    color_files = {"semantic": "metadata_semantic_colors.hdf5", "instance": "metadata_semantic_instance_colors.hdf5"}
    for key, file in color_files.items():
        path = mesh / file
        colors[key] = read_hdf5_dataset(path, what=f"{key} colours of {scene}", kind="iu",
                                        shape=(None, 3)) if path.is_file() else None
    return MeshAnnotations(si.astype(np.int64), sii.astype(np.int64), names, colors["semantic"], colors["instance"])


def _as_column(path: Path, array: np.ndarray) -> np.ndarray:
    if array.ndim == 2 and array.shape[1] == 1:
        return array[:, 0]
    if array.ndim == 1:
        return array
    raise FormatError(path, "shape (N,) or (N, 1)", str(array.shape))


@dataclass(frozen=True, eq=False)
class MeshGeometry:
    """A scene's triangle mesh (only for users who own the Evermotion assets, or synthetic scenes).

    Attributes:
        vertices_asset: float64 (V, 3) in asset units, world frame.
        faces_vi: int64 (F, 3) vertex indices per triangle.
        faces_oi: int64 (F,) object id per face (indexes the MeshAnnotations arrays).
    """

    vertices_asset: np.ndarray
    faces_vi: np.ndarray
    faces_oi: np.ndarray


def read_mesh_geometry(layout: HypersimLayout, scene: str) -> MeshGeometry:
    """Read `mesh_vertices.hdf5`, `mesh_faces_vi.hdf5` and `mesh_faces_oi.hdf5`, checking index ranges."""
    mesh = layout.mesh_dir(scene)
    vertices = read_hdf5_dataset(mesh / "mesh_vertices.hdf5", what=f"mesh vertices of {scene}", kind="f",
                                 shape=(None, 3)).astype(np.float64)
    faces = read_hdf5_dataset(mesh / "mesh_faces_vi.hdf5", what=f"mesh faces of {scene}", kind="iu",
                              shape=(None, 3)).astype(np.int64)
    objects = _as_column(mesh / "mesh_faces_oi.hdf5", read_hdf5_dataset(
        mesh / "mesh_faces_oi.hdf5", what=f"face object ids of {scene}", kind="iu")).astype(np.int64)
    if len(objects) != len(faces):
        raise FormatError(mesh / "mesh_faces_oi.hdf5", f"{len(faces)} entries (one per face)", str(len(objects)))
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise FormatError(mesh / "mesh_faces_vi.hdf5", f"vertex indices in [0, {len(vertices)})",
                          f"range [{faces.min()}, {faces.max()}]")
    if not np.all(np.isfinite(vertices)):
        raise FormatError(mesh / "mesh_vertices.hdf5", "finite vertex coordinates", "NaN or inf")
    return MeshGeometry(vertices, faces, objects)
