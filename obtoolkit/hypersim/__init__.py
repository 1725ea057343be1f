"""Reading Hypersim: layout discovery, frame files, the camera CSV, poses and scene metadata.

Every reader checks key, dtype and shape, and raises errors (`obtoolkit.errors`) that name the file and what was
expected.
"""

from obtoolkit.hypersim.camera import (
    CameraParametersTable,
    CameraTrajectory,
    HypersimCamera,
    read_camera_parameters,
    read_camera_trajectory,
)
from obtoolkit.hypersim.frames import (
    FrameGeometry,
    frame_geometry,
    read_final,
    read_frame_geometry,
    read_geometry,
    read_rgb_image,
    read_tonemap,
)
from obtoolkit.hypersim.h5 import read_hdf5_dataset
from obtoolkit.hypersim.layout import (
    FINAL_MODALITIES,
    GEOMETRY_MODALITIES,
    FrameId,
    HypersimLayout,
    iter_frames,
    list_cameras,
    list_frames,
    list_scenes,
    parse_frame_id,
)
from obtoolkit.hypersim.metadata import (
    MeshAnnotations,
    MeshGeometry,
    read_mesh_annotations,
    read_mesh_geometry,
    read_metadata_cameras,
    read_metadata_nodes,
    read_meters_per_asset_unit,
    read_parameter_csv,
    read_split_csv,
)

__all__ = [
    "FINAL_MODALITIES", "GEOMETRY_MODALITIES", "CameraParametersTable", "CameraTrajectory", "FrameGeometry",
    "FrameId", "HypersimCamera", "HypersimLayout", "MeshAnnotations", "MeshGeometry", "frame_geometry", "iter_frames",
    "list_cameras", "list_frames", "list_scenes", "parse_frame_id", "read_camera_parameters", "read_camera_trajectory",
    "read_final", "read_frame_geometry", "read_geometry", "read_hdf5_dataset", "read_mesh_annotations",
    "read_mesh_geometry", "read_metadata_cameras", "read_metadata_nodes", "read_meters_per_asset_unit",
    "read_parameter_csv", "read_rgb_image", "read_split_csv", "read_tonemap",
]
