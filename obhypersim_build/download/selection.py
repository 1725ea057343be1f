"""Which archive members a build needs: per-frame images by modality, and a documented set of `_detail/` files.

Per-frame members are recognised by name and rebuilt with `HypersimLayout`'s path builders, so a selected member is
written exactly where the readers (and `obh generate`) look for it:
  <scene>/images/scene_cam_XX_geometry_hdf5/frame.IIII.<geometry modality>.hdf5
  <scene>/images/scene_cam_XX_final_hdf5/frame.IIII.<final modality>.hdf5
  <scene>/images/scene_cam_XX_final_preview/frame.IIII.tonemap.jpg
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from obhypersim_build.download.zipindex import ZipMember
from obtoolkit.hypersim.layout import (
    CAMERA_PATTERN,
    FINAL_MODALITIES,
    GEOMETRY_MODALITIES,
    SCENE_PATTERN,
    FrameId,
    HypersimLayout,
)

TONEMAP = "tonemap"
# What `obh generate` reads per frame (obtoolkit.hypersim.frames.DEFAULT_GEOMETRY_KINDS) plus the RGB preview.
DEFAULT_MODALITIES = ("depth_meters", "normal_cam", "render_entity_id", "semantic", "semantic_instance", TONEMAP)
KNOWN_MODALITIES = (*GEOMETRY_MODALITIES, *FINAL_MODALITIES, TONEMAP)

# `_detail/` files, as glob patterns relative to `<scene>/_detail/` (`cam_*` entries follow --cameras):
#  - metadata_scene.csv (meters_per_asset_unit), metadata_cameras.csv, metadata_nodes.csv (render_entity_id ->
#    object id): the scene tables the readers in obtoolkit.hypersim.metadata use;
#  - cam_XX/camera_keyframe_*.hdf5 and cam_XX/metadata_camera.csv: camera poses (asset units, R_world_from_cam);
#  - mesh/ annotation tables: object -> NYU40 class / instance id, object names, preview colours.
# The mesh bounding boxes, metadata_node_strings.csv and any purchased mesh geometry are left out; "all" takes
# everything under _detail/.
BUILD_DETAIL_FILES = (
    "metadata_scene.csv",
    "metadata_cameras.csv",
    "metadata_nodes.csv",
    "cam_*/camera_keyframe_*.hdf5",
    "cam_*/metadata_camera.csv",
    "mesh/mesh_objects_si.hdf5",
    "mesh/mesh_objects_sii.hdf5",
    "mesh/metadata_objects.csv",
    "mesh/metadata_semantic_colors.hdf5",
    "mesh/metadata_semantic_instance_colors.hdf5",
)
DETAIL_SETS: dict[str, tuple[str, ...]] = {"build": BUILD_DETAIL_FILES, "all": ("*",), "none": ()}

_IMAGE_MEMBER = re.compile(
    r"^(?P<scene>ai_\d{3}_\d{3})/images/scene_(?P<camera>cam_\d{2})_(?P<kind>geometry_hdf5|final_hdf5|final_preview)"
    r"/frame\.(?P<frame>\d{4})\.(?P<modality>[a-z_]+)\.(?:hdf5|jpg)$")
_RELATIVE = HypersimLayout(Path())


@dataclass(frozen=True)
class Selection:
    """What to take from each scene's archive.

    Attributes:
        modalities: per-frame files by name (geometry and final HDF5 modalities, and "tonemap").
        cameras: only these trajectories (`cam_XX`); empty = all.
        detail: which `_detail/` files: a key of DETAIL_SETS ("build", "all", "none").
    """

    modalities: tuple[str, ...] = DEFAULT_MODALITIES
    cameras: tuple[str, ...] = ()
    detail: str = "build"

    def __post_init__(self) -> None:
        unknown = [m for m in self.modalities if m not in KNOWN_MODALITIES]
        if unknown:
            raise ValueError(f"unknown modality {', '.join(unknown)}; known: {', '.join(KNOWN_MODALITIES)}")
        bad = [c for c in self.cameras if not CAMERA_PATTERN.match(c)]
        if bad:
            raise ValueError(f"camera names look like cam_00, got {', '.join(bad)}")
        if self.detail not in DETAIL_SETS:
            raise ValueError(f"detail set {self.detail!r} unknown; known: {', '.join(DETAIL_SETS)}")

    def wants_camera(self, camera: str) -> bool:
        return not self.cameras or camera in self.cameras


FrameFilter = Callable[[FrameId], bool]


def member_frame(name: str) -> tuple[FrameId, str] | None:
    """(frame, modality) of a per-frame member name in Hypersim's layout, or None for anything else."""
    match = _IMAGE_MEMBER.match(name)
    if match is None:
        return None
    frame = FrameId(match["scene"], match["camera"], int(match["frame"]))
    modality = match["modality"]
    if expected_member_name(frame, modality) != name:
        return None
    return frame, modality


def expected_member_name(frame: FrameId, modality: str) -> str | None:
    """The archive name (= path under the Hypersim root) of a frame's modality, from HypersimLayout."""
    if modality == TONEMAP:
        path = _RELATIVE.tonemap_path(frame)
    elif modality in GEOMETRY_MODALITIES:
        path = _RELATIVE.geometry_path(frame, modality)
    elif modality in FINAL_MODALITIES:
        path = _RELATIVE.final_path(frame, modality)
    else:
        return None
    return path.as_posix()


def is_wanted_detail(scene: str, name: str, selection: Selection) -> bool:
    """Whether `name` (`<scene>/_detail/...`) is in the selection's `_detail/` set and its camera is wanted."""
    prefix = f"{scene}/_detail/"
    if not name.startswith(prefix) or name.endswith("/"):
        return False
    relative = name[len(prefix):]
    parts = relative.split("/")
    if ".." in parts or "" in parts:
        return False
    if CAMERA_PATTERN.match(parts[0]) and len(parts) > 1 and not selection.wants_camera(parts[0]):
        return False
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in DETAIL_SETS[selection.detail])


def select_members(scene: str, members: Iterable[ZipMember], selection: Selection,
                   frame_filter: FrameFilter | None = None) -> list[ZipMember]:
    """The members of one scene's archive that the selection wants, in archive order.

    Args:
        scene: the archive's scene; members outside `<scene>/` are ignored.
        frame_filter: keeps a frame when it returns True (e.g. public frames of a split); None keeps all.
    """
    if not SCENE_PATTERN.match(scene):
        raise ValueError(f"scene names look like ai_001_001, got {scene!r}")
    wanted = set(selection.modalities)
    chosen = []
    for member in members:
        parsed = member_frame(member.name)
        if parsed is not None:
            frame, modality = parsed
            if (frame.scene == scene and modality in wanted and selection.wants_camera(frame.camera)
                    and (frame_filter is None or frame_filter(frame))):
                chosen.append(member)
        elif is_wanted_detail(scene, member.name, selection):
            chosen.append(member)
    return chosen


def split_frames(table, splits: Sequence[str]) -> dict[str, set[tuple[str, int]]]:
    """Public frames of the given splits from a read_split_csv table: scene -> {(camera, frame)}."""
    rows = table[table["included_in_public_release"] & table["split_partition_name"].isin(list(splits))]
    frames: dict[str, set[tuple[str, int]]] = {}
    for scene, camera, frame in zip(rows["scene_name"], rows["camera_name"], rows["frame_id"], strict=True):
        frames.setdefault(scene, set()).add((camera, int(frame)))
    return frames
