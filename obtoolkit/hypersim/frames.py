"""Reading one Hypersim frame: geometry and final HDF5 modalities, the tonemapped preview, and a typed bundle."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from obtoolkit._checks import check_array, check_same_hw
from obtoolkit.errors import EmptyFrameError, FormatError
from obtoolkit.hypersim.camera import HypersimCamera, read_camera_parameters
from obtoolkit.hypersim.h5 import read_hdf5_dataset
from obtoolkit.hypersim.layout import FINAL_MODALITIES, GEOMETRY_MODALITIES, FrameId, HypersimLayout, ModalitySpec
from obtoolkit.limits import open_image

DEFAULT_GEOMETRY_KINDS = ("depth_meters", "normal_cam", "render_entity_id", "semantic", "semantic_instance")


def _expected_shape(spec: ModalitySpec, shape_hw: tuple[int, int] | None) -> tuple[int | None, ...]:
    height, width = shape_hw if shape_hw is not None else (None, None)
    return (height, width) if spec.channels is None else (height, width, spec.channels)


def read_geometry(
    layout: HypersimLayout, frame: FrameId, modality: str, *, shape_hw: tuple[int, int] | None = None
) -> np.ndarray:
    """Read one geometry modality of a frame in its stored dtype (float16 / int16 for real Hypersim files).

    Shapes: (H, W) for depth_meters and the id maps, (H, W, 3) for positions, normals and tex_coord.
    `shape_hw`, when given (e.g. from the camera CSV), is enforced.
    """
    spec = GEOMETRY_MODALITIES.get(modality)
    if spec is None:
        raise ValueError(f"unknown geometry modality {modality!r}; known: {sorted(GEOMETRY_MODALITIES)}")
    return read_hdf5_dataset(
        layout.geometry_path(frame, modality), what=f"{modality} of {frame}", kind=spec.kind,
        shape=_expected_shape(spec, shape_hw),
    )


def read_final(
    layout: HypersimLayout, frame: FrameId, modality: str, *, shape_hw: tuple[int, int] | None = None
) -> np.ndarray:
    """Read one final (HDR) modality of a frame: (H, W, 3) float16, linear, not NaN-masked."""
    spec = FINAL_MODALITIES.get(modality)
    if spec is None:
        raise ValueError(f"unknown final modality {modality!r}; known: {sorted(FINAL_MODALITIES)}")
    return read_hdf5_dataset(
        layout.final_path(frame, modality), what=f"{modality} of {frame}", kind=spec.kind,
        shape=_expected_shape(spec, shape_hw),
    )


def read_tonemap(layout: HypersimLayout, frame: FrameId, *, shape_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Read the tonemapped sRGB preview (`frame.IIII.tonemap.jpg`) as uint8 (H, W, 3)."""
    return read_rgb_image(layout.tonemap_path(frame), what=f"tonemap of {frame}", shape_hw=shape_hw)


def read_rgb_image(path: str | Path, *, what: str, shape_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Read an 8-bit image file as uint8 (H, W, 3) RGB, with errors that name the file (a header claiming more than
    `obtoolkit.limits.DEFAULT_MAX_IMAGE_PIXELS` is refused before decoding)."""
    path = Path(path)
    with open_image(path, what=what) as image:  # the header's size checked before decoding
        rgb = np.asarray(image.convert("RGB"))
    if shape_hw is not None and rgb.shape[:2] != tuple(shape_hw):
        raise FormatError(path, f"size {shape_hw[1]}x{shape_hw[0]} ({what})", f"{rgb.shape[1]}x{rgb.shape[0]}")
    return rgb


@dataclass(frozen=True, eq=False)
class FrameGeometry:
    """One frame's geometry: the record that reading produces and that label generation and validation consume.

    Attributes:
        distance_m: float (H, W), Euclidean distance along the ray in metres (Hypersim's depth_meters); NaN (or any
            value) where `valid_mask` is False. float32 when read.
        valid_mask: bool (H, W): finite distance > 0 and, when read, render_entity_id >= 1 (spec §6.1).
        M_cam_from_uv: float (3, 3) the scene's camera matrix (exact rays, tilt-shift aware), or None when no camera
            is known (label generation needs it; validation skips the checks that do).
        normal_cam: float (H, W, 3) camera-frame normals as stored (not re-normalised; may be NaN, zero, inward), or
            None if not read.
        semantic, semantic_instance, render_entity_id: int (H, W) id maps, -1 where undefined, or None if not read
            (without them every valid pixel is one object: purely geometric labels).
        frame: which frame, when read from a tree (None for frames built in memory).
        finite_depth_mask: bool (H, W) where the stored depth_meters is finite (NaN where no geometry was hit), when
            read; None otherwise.
    """

    distance_m: np.ndarray
    valid_mask: np.ndarray
    M_cam_from_uv: np.ndarray | None = None
    normal_cam: np.ndarray | None = None
    semantic: np.ndarray | None = None
    semantic_instance: np.ndarray | None = None
    render_entity_id: np.ndarray | None = None
    frame: FrameId | None = None
    finite_depth_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_array("distance_m", self.distance_m, shape=(None, None), kind="f")
        check_array("valid_mask", self.valid_mask, shape=(None, None), dtype=bool)
        if self.M_cam_from_uv is not None:
            check_array("M_cam_from_uv", np.asarray(self.M_cam_from_uv), shape=(3, 3))
        check_same_hw("FrameGeometry", distance_m=self.distance_m, valid_mask=self.valid_mask,
                      normal_cam=self.normal_cam, semantic=self.semantic, semantic_instance=self.semantic_instance,
                      render_entity_id=self.render_entity_id, finite_depth_mask=self.finite_depth_mask)

    @property
    def shape_hw(self) -> tuple[int, int]:
        return self.distance_m.shape

    @property
    def valid_fraction(self) -> float:
        return float(self.valid_mask.mean())

    @property
    def has_ids(self) -> bool:
        """All three id maps are present (the instance rule can run)."""
        return all(a is not None for a in (self.semantic, self.semantic_instance, self.render_entity_id))

    @classmethod
    def read(cls, root: str | Path, scene: str, camera: str, frame: int, *, camera_csv: str | Path | None = None,
             modalities: Collection[str] = DEFAULT_GEOMETRY_KINDS) -> FrameGeometry:
        """One frame of a Hypersim tree by name, with its scene's camera: what `compute_labels` takes.

            geometry = FrameGeometry.read("hypersim", "ai_001_001", "cam_00", 0)

        Args:
            root: the Hypersim root (scene folders `ai_VVV_NNN/`).
            scene, camera, frame: e.g. "ai_001_001", "cam_00", 0.
            camera_csv: Hypersim's metadata_camera_parameters.csv (default: the one at `root`).
            modalities: geometry modalities to read (`read_frame_geometry`).

        Raises:
            MissingFileError / FormatError: a file is missing or unreadable (the message names it); EmptyFrameError:
                no valid pixel.
        """
        layout = HypersimLayout(root)
        csv = layout.camera_parameters_csv if camera_csv is None else Path(camera_csv)
        parameters = read_camera_parameters(csv, scenes=[scene]).camera(scene)
        return read_frame_geometry(layout, FrameId(scene, camera, int(frame)), camera=parameters,
                                   modalities=modalities)


def frame_geometry(
    arrays: Mapping[str, np.ndarray],
    *,
    M_cam_from_uv: np.ndarray | None = None,
    frame: FrameId | None = None,
) -> FrameGeometry:
    """The frame record from geometry arrays in Hypersim's stored dtypes (as read from the files, or rendered).

    `arrays` maps modality names (depth_meters required; normal_cam, render_entity_id, semantic, semantic_instance
    optional) to arrays sharing one (H, W). valid = finite(depth_meters) & depth_meters > 0 & render_entity_id >= 1
    (when present). Invalid pixels get NaN distance; distance and normals become float32, ids int32.
    """
    distance = arrays["depth_meters"]
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(distance) & (distance > 0)
    ids = {k: arrays[k].astype(np.int32) for k in ("render_entity_id", "semantic", "semantic_instance") if k in arrays}
    if "render_entity_id" in ids:
        valid &= ids["render_entity_id"] >= 1
    normal = arrays.get("normal_cam")
    return FrameGeometry(
        distance_m=np.where(valid, distance, np.nan).astype(np.float32),
        valid_mask=valid,
        M_cam_from_uv=None if M_cam_from_uv is None else np.asarray(M_cam_from_uv, np.float64),
        normal_cam=None if normal is None else normal.astype(np.float32),
        render_entity_id=ids.get("render_entity_id"),
        semantic=ids.get("semantic"),
        semantic_instance=ids.get("semantic_instance"),
        frame=frame,
        finite_depth_mask=np.isfinite(distance),
    )


def read_frame_geometry(
    layout: HypersimLayout,
    frame: FrameId,
    *,
    camera: HypersimCamera | None = None,
    modalities: Collection[str] = DEFAULT_GEOMETRY_KINDS,
    shape_hw: tuple[int, int] | None = None,
    allow_empty: bool = False,
) -> FrameGeometry:
    """Read the modalities label generation needs into the frame record (`frame_geometry`, spec §6.1).

    `camera` (the scene's row of the camera CSV), when given, supplies M_cam_from_uv and the expected image size;
    `shape_hw` otherwise. All modalities must share one (H, W).

    Raises:
        EmptyFrameError: no valid pixel at all (e.g. Hypersim's all-NaN ai_012_007/cam_01/frame.0000), unless
            `allow_empty`; the message names the depth file.
    """
    if "depth_meters" not in modalities:
        raise ValueError("read_frame_geometry needs depth_meters")
    if camera is not None:
        shape_hw = camera.shape_hw
    arrays = {m: read_geometry(layout, frame, m, shape_hw=shape_hw) for m in modalities}
    shape = arrays["depth_meters"].shape
    for name, array in arrays.items():
        if array.shape[:2] != shape:
            raise FormatError(layout.geometry_path(frame, name), f"size {shape} like depth_meters", str(array.shape))
    geometry = frame_geometry(arrays, M_cam_from_uv=None if camera is None else camera.M_cam_from_uv, frame=frame)
    if not geometry.valid_mask.any() and not allow_empty:
        raise EmptyFrameError(
            f"{layout.geometry_path(frame, 'depth_meters')}: frame {frame} has no valid pixel "
            "(depth all NaN or no geometry hit)"
        )
    return geometry
