"""Hypersim cameras: the per-scene camera-parameter CSV (`M_cam_from_uv`) and per-trajectory keyframe poses.

Hypersim's camera frame is OpenGL-like: +x right, +y up, +z backwards (the camera looks down -z). Poses are
`R_world_from_cam` (acting on column vectors) and camera centres in asset units.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.hypersim.h5 import read_hdf5_dataset
from obtoolkit.hypersim.layout import HypersimLayout
from obtoolkit.limits import DEFAULT_MAX_IMAGE_PIXELS, check_pixels

_M_COLUMNS = [f"M_cam_from_uv_{r}{c}" for r in range(3) for c in range(3)]
_PROJ_COLUMNS = [f"M_proj_{r}{c}" for r in range(4) for c in range(4)]
_REQUIRED_COLUMNS = [
    "scene_name", "settings_output_img_height", "settings_output_img_width", "settings_units_info_meters_scale",
    *_M_COLUMNS,
]


@dataclass(frozen=True, eq=False)
class HypersimCamera:
    """The camera of one Hypersim scene.

    Attributes:
        scene: `ai_VVV_NNN`.
        M_cam_from_uv: float64 (3, 3); maps (u, v, 1) at a pixel centre to a camera-frame ray (arbitrary scale).
        height, width: image size in pixels.
        meters_per_asset_unit: metres per asset unit (`settings_units_info_meters_scale`).
        M_proj: float64 (4, 4) OpenGL projection with the tilt-shift folded in, or None if absent.
    """

    scene: str
    M_cam_from_uv: np.ndarray
    height: int
    width: int
    meters_per_asset_unit: float
    M_proj: np.ndarray | None = None

    @property
    def shape_hw(self) -> tuple[int, int]:
        return (self.height, self.width)

    def is_standard(self, tol: float = 1e-6) -> bool:
        """True when M_cam_from_uv (scaled to M[2, 2] = -1) is within `tol` of the canonical 60-degree matrix."""
        from obtoolkit.geometry import standard_M_cam_from_uv

        M = self.M_cam_from_uv / -self.M_cam_from_uv[2, 2]
        return bool(np.abs(M - standard_M_cam_from_uv(self.height, self.width)).max() <= tol)


class CameraParametersTable:
    """`metadata_camera_parameters.csv`: one HypersimCamera per scene, with errors that name the CSV.

    A row that cannot be used (a non-numeric or NaN value, a wrong column count, a claimed frame size over the
    limit, a second row for one scene) makes only its own scene unusable: `camera(scene)` raises its FormatError.
    """

    def __init__(self, path: str | Path, cameras: dict[str, HypersimCamera],
                 errors: dict[str, tuple[str, str]] | None = None):
        self.path = Path(path)
        self._cameras = cameras
        self._errors = dict(errors or {})  # scene -> (expected, found): picklable, raised as FormatError

    def __len__(self) -> int:
        return len(self._cameras)

    def __contains__(self, scene: object) -> bool:
        return scene in self._cameras

    @property
    def scenes(self) -> list[str]:
        """Scenes with a usable row."""
        return sorted(self._cameras)

    @property
    def bad_scenes(self) -> list[str]:
        """Scenes whose row is not usable (see `camera`)."""
        return sorted(self._errors)

    def camera(self, scene: str) -> HypersimCamera:
        """The camera of `scene`.

        Raises:
            FormatError: the scene's row is not usable (naming the CSV, the line and what was expected).
            KeyError: the scene has no row (naming the CSV).
        """
        if scene in self._errors:
            raise FormatError(self.path, *self._errors[scene])
        try:
            return self._cameras[scene]
        except KeyError:
            raise KeyError(
                f"{self.path}: no row for scene {scene!r} ({len(self._cameras)} scenes in the camera-parameter CSV); "
                "its M_cam_from_uv is required (285 of 482 Hypersim scenes use tilt-shift lenses, so no default "
                "camera is assumed)"
            ) from None


def read_camera_parameters(path: str | Path, *, scenes: Collection[str] | None = None,
                           max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> CameraParametersTable:
    """Read Hypersim's `metadata_camera_parameters.csv` (one row per scene, 86 columns).

    Args:
        scenes: parse only these scenes' rows (the others are skipped unread); None parses every row.
        max_pixels: the largest frame (height x width) a row may claim.

    Raises:
        MissingFileError / FormatError: the file is missing, or its header lacks a required column. A bad row does
            not raise here: it makes its scene's `camera()` raise.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "Hypersim camera-parameter CSV (metadata_camera_parameters.csv)")
    wanted = None if scenes is None else set(scenes)
    cameras: dict[str, HypersimCamera] = {}
    errors: dict[str, tuple[str, str]] = {}
    lines: dict[str, int] = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise FormatError(path, f"columns {', '.join(missing)}", f"header {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            scene = row["scene_name"]
            if wanted is not None and scene not in wanted:
                continue
            if scene in lines:
                errors[scene] = (f"one row for scene {scene}", f"lines {lines[scene]} and {line}")
                continue
            lines[scene] = line
            try:
                cameras[scene] = _camera_from_row(path, line, row, len(reader.fieldnames), max_pixels)
            except FormatError as error:
                errors[scene] = (error.expected, error.found)
    for scene in errors:
        cameras.pop(scene, None)
    return CameraParametersTable(path, cameras, errors)


def _camera_from_row(path: Path, line: int, row: dict, n_columns: int, max_pixels: int) -> HypersimCamera:
    scene = row["scene_name"]
    if None in row or None in row.values():  # csv.DictReader: extra values under the key None, missing ones None
        found = n_columns + len(row.get(None, ())) if None in row else sum(v is not None for v in row.values())
        raise FormatError(path, f"{n_columns} columns on line {line} (scene {scene})", f"{found}")
    try:
        M = np.array([float(row[c]) for c in _M_COLUMNS], dtype=np.float64).reshape(3, 3)
        height = int(float(row["settings_output_img_height"]))
        width = int(float(row["settings_output_img_width"]))
        scale = float(row["settings_units_info_meters_scale"])
        proj = None
        if all(row.get(c) not in (None, "") for c in _PROJ_COLUMNS):
            proj = np.array([float(row[c]) for c in _PROJ_COLUMNS], dtype=np.float64).reshape(4, 4)
    except (TypeError, ValueError, OverflowError) as error:
        raise FormatError(path, f"numeric camera values on line {line} (scene {scene})", str(error)) from error
    if not np.all(np.isfinite(M)) or abs(np.linalg.det(M)) < 1e-12:
        raise FormatError(path, f"a finite invertible M_cam_from_uv on line {line} (scene {scene})", str(M.tolist()))
    if height <= 0 or width <= 0 or not scale > 0 or not np.isfinite(scale):
        raise FormatError(path, f"positive image size and meters scale on line {line} (scene {scene})",
                          f"{width}x{height}, scale {scale}")
    check_pixels(path, width, height, max_pixels, what=f"the frame size claimed on line {line} (scene {scene})")
    return HypersimCamera(scene, M, height, width, scale, proj)


@dataclass(frozen=True, eq=False)
class CameraTrajectory:
    """Keyframe poses of one camera trajectory.

    Attributes:
        positions_asset: float64 (N, 3), camera centres in asset units, world frame.
        R_world_from_cam: float64 (N, 3, 3), camera-to-world rotations (Hypersim camera frame).
        frame_indices: int64 (N,), the frame id of each keyframe (Hypersim: arange(N)).
    """

    positions_asset: np.ndarray
    R_world_from_cam: np.ndarray
    frame_indices: np.ndarray

    def pose(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """(R_world_from_cam (3, 3), position_asset (3,)) of `frame`."""
        hits = np.flatnonzero(self.frame_indices == frame)
        if hits.size == 0:
            raise KeyError(f"frame {frame} is not a keyframe of this trajectory ({len(self.frame_indices)} keyframes)")
        return self.R_world_from_cam[hits[0]], self.positions_asset[hits[0]]


def read_camera_trajectory(layout: HypersimLayout, scene: str, camera: str) -> CameraTrajectory:
    """Read `_detail/cam_XX/camera_keyframe_{positions,orientations,frame_indices}.hdf5` with checks.

    The frame-indices file is optional (Hypersim writes arange(N)); rotations must be orthonormal with det +1.
    """
    folder = layout.camera_detail_dir(scene, camera)
    positions = read_hdf5_dataset(folder / "camera_keyframe_positions.hdf5", what=f"camera positions of {scene}/"
                                  f"{camera}", kind="f", shape=(None, 3)).astype(np.float64)
    rotations = read_hdf5_dataset(folder / "camera_keyframe_orientations.hdf5", what=f"camera orientations of "
                                  f"{scene}/{camera}", kind="f", shape=(len(positions), 3, 3)).astype(np.float64)
    indices_path = folder / "camera_keyframe_frame_indices.hdf5"
    if indices_path.is_file():
        indices = read_hdf5_dataset(indices_path, what=f"keyframe indices of {scene}/{camera}", kind="iuf",
                                    shape=(len(positions),)).astype(np.int64)
    else:
        indices = np.arange(len(positions), dtype=np.int64)
    error = np.abs(np.einsum("nji,njk->nik", rotations, rotations) - np.eye(3)).max() if len(rotations) else 0.0
    if error > 1e-3 or (len(rotations) and np.any(np.linalg.det(rotations) < 0)):
        raise FormatError(folder / "camera_keyframe_orientations.hdf5", "rotation matrices (orthonormal, det +1)",
                          f"orthonormality error {error:.2e}")
    return CameraTrajectory(positions, rotations, indices)
