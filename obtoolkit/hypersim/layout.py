"""Hypersim's on-disk layout: frame identities, modality specs, path builders and discovery.

A Hypersim root holds scene folders `ai_VVV_NNN/` with
  images/scene_cam_XX_geometry_hdf5/frame.IIII.<kind>.hdf5
  images/scene_cam_XX_final_hdf5/frame.IIII.<kind>.hdf5
  images/scene_cam_XX_final_preview/frame.IIII.tonemap.jpg
  _detail/{metadata_scene.csv, metadata_cameras.csv, metadata_nodes.csv, cam_XX/..., mesh/...}
and, at the root, the dataset-level tables `metadata_camera_parameters.csv` (from
contrib/mikeroberts3000) and `metadata_images_split_scene_v1.csv` (from evermotion_dataset/analysis).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

SCENE_PATTERN = re.compile(r"^ai_\d{3}_\d{3}$")
CAMERA_PATTERN = re.compile(r"^cam_\d{2}$")
_IMAGE_DIR_PATTERN = re.compile(r"^scene_(cam_\d{2})_(geometry_hdf5|final_hdf5|final_preview|geometry_preview)$")
_FRAME_FILE_PATTERN = re.compile(r"^frame\.(\d{4})\.")

CAMERA_PARAMETERS_CSV = "metadata_camera_parameters.csv"
SPLIT_CSV = "metadata_images_split_scene_v1.csv"


class FrameId(NamedTuple):
    """One Hypersim frame: scene `ai_VVV_NNN`, camera trajectory `cam_XX`, frame index 0..9999."""

    scene: str
    camera: str
    frame: int

    def __str__(self) -> str:
        return f"{self.scene}/{self.camera}/frame.{self.frame:04d}"


@dataclass(frozen=True)
class ModalitySpec:
    """What one per-frame HDF5 file holds: dtype kind ('f' float, 'i' signed int), channels (None = 2-D)."""

    kind: str
    channels: int | None
    stored_dtype: str
    description: str


GEOMETRY_MODALITIES: dict[str, ModalitySpec] = {
    "depth_meters": ModalitySpec("f", None, "float16", "Euclidean distance to the optical centre, m; NaN = no hit"),
    "position": ModalitySpec("f", 3, "float16", "world position, asset units; NaN = no hit"),
    "normal_world": ModalitySpec("f", 3, "float16", "world-frame normal without bump mapping; NaN = no hit"),
    "normal_cam": ModalitySpec("f", 3, "float16", "camera-frame normal (x right, y up, z to viewer); NaN = no hit"),
    "normal_bump_world": ModalitySpec("f", 3, "float16", "world-frame normal with bump mapping; NaN = no hit"),
    "normal_bump_cam": ModalitySpec("f", 3, "float16", "camera-frame normal with bump mapping; NaN = no hit"),
    "render_entity_id": ModalitySpec("i", None, "int16", "V-Ray node id >= 1; -1 = no hit"),
    "semantic": ModalitySpec("i", None, "int16", "NYU40 class 1..40; -1 = unlabelled or no hit"),
    "semantic_instance": ModalitySpec("i", None, "int16", "instance id >= 1; -1 = no instance or no hit"),
    "tex_coord": ModalitySpec("f", 3, "float16", "texture coordinates (not NaN-masked)"),
}

FINAL_MODALITIES: dict[str, ModalitySpec] = {
    "color": ModalitySpec("f", 3, "float16", "linear HDR colour"),
    "diffuse_illumination": ModalitySpec("f", 3, "float16", "linear HDR diffuse illumination"),
    "diffuse_reflectance": ModalitySpec("f", 3, "float16", "diffuse reflectance"),
    "residual": ModalitySpec("f", 3, "float16", "non-diffuse residual"),
}


@dataclass(frozen=True)
class HypersimLayout:
    """Path builder for one Hypersim root. Builds paths only; it never checks that they exist."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def scene_dir(self, scene: str) -> Path:
        return self.root / scene

    def images_dir(self, scene: str, camera: str, kind: str) -> Path:
        return self.root / scene / "images" / f"scene_{camera}_{kind}"

    def geometry_path(self, frame: FrameId, modality: str) -> Path:
        return self.images_dir(frame.scene, frame.camera, "geometry_hdf5") / f"frame.{frame.frame:04d}.{modality}.hdf5"

    def final_path(self, frame: FrameId, modality: str) -> Path:
        return self.images_dir(frame.scene, frame.camera, "final_hdf5") / f"frame.{frame.frame:04d}.{modality}.hdf5"

    def tonemap_path(self, frame: FrameId) -> Path:
        return self.images_dir(frame.scene, frame.camera, "final_preview") / f"frame.{frame.frame:04d}.tonemap.jpg"

    def detail_dir(self, scene: str) -> Path:
        return self.root / scene / "_detail"

    def camera_detail_dir(self, scene: str, camera: str) -> Path:
        return self.detail_dir(scene) / camera

    def mesh_dir(self, scene: str) -> Path:
        return self.detail_dir(scene) / "mesh"

    @property
    def camera_parameters_csv(self) -> Path:
        return self.root / CAMERA_PARAMETERS_CSV

    @property
    def split_csv(self) -> Path:
        return self.root / SPLIT_CSV


def list_scenes(root: str | Path) -> list[str]:
    """Scene folders (`ai_VVV_NNN`) directly under `root`, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: Hypersim root folder does not exist")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and SCENE_PATTERN.match(p.name))


def list_cameras(root: str | Path, scene: str) -> list[str]:
    """Camera trajectories of a scene that have rendered images (`images/scene_cam_XX_*`), sorted."""
    images = Path(root) / scene / "images"
    if not images.is_dir():
        return []
    cameras = {m.group(1) for p in images.iterdir() if p.is_dir() and (m := _IMAGE_DIR_PATTERN.match(p.name))}
    return sorted(cameras)


def list_frames(root: str | Path, scene: str, camera: str) -> list[FrameId]:
    """Every frame index that has at least one geometry HDF5, final HDF5 or tonemap file, sorted.

    Taking the union (rather than only frames with a depth file) makes a frame whose depth file is missing show up,
    so that reading it fails loudly instead of the frame silently disappearing.
    """
    layout = HypersimLayout(Path(root))
    indices: set[int] = set()
    for kind in ("geometry_hdf5", "final_hdf5", "final_preview"):
        folder = layout.images_dir(scene, camera, kind)
        if folder.is_dir():
            indices.update(int(m.group(1)) for p in folder.iterdir() if (m := _FRAME_FILE_PATTERN.match(p.name)))
    return [FrameId(scene, camera, i) for i in sorted(indices)]


def iter_frames(root: str | Path, scenes: Iterable[str] | None = None) -> Iterator[FrameId]:
    """All frames under `root` (optionally only the given scenes), in (scene, camera, frame) order."""
    wanted = list_scenes(root) if scenes is None else sorted(scenes)
    for scene in wanted:
        for camera in list_cameras(root, scene):
            yield from list_frames(root, scene, camera)


def parse_frame_id(text: str) -> FrameId:
    """Parse `ai_001_001/cam_00/frame.0007`, `ai_001_001/cam_00/7` or `ai_001_001 cam_00 7` into a FrameId."""
    parts = [p for p in re.split(r"[/\s,]+", text.strip()) if p]
    if len(parts) == 3 and SCENE_PATTERN.match(parts[0]) and CAMERA_PATTERN.match(parts[1]):
        index = parts[2].removeprefix("frame.")
        if index.isdigit():
            return FrameId(parts[0], parts[1], int(index))
    raise ValueError(f"{text!r}: expected a frame like ai_001_001/cam_00/frame.0007")
