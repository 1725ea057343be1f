from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.geometry import standard_M_cam_from_uv
from obtoolkit.hypersim import FrameId
from obtoolkit.synth.writer import HypersimWriter

H, W = 12, 16


def write_small_frame(writer: HypersimWriter, frame: FrameId, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a hand-made frame with every geometry modality and the tonemap; returns the arrays."""
    rng = np.random.default_rng(seed)
    depth = rng.uniform(1, 5, (H, W)).astype(np.float16)
    depth[0, :3] = np.nan
    ids = rng.integers(1, 4, (H, W)).astype(np.int16)
    ids[0, :3] = -1
    normals = np.zeros((H, W, 3), np.float16)
    normals[..., 2] = 1
    arrays = {"depth_meters": depth, "render_entity_id": ids, "semantic": ids, "semantic_instance": ids,
              "normal_cam": normals}
    for name, array in arrays.items():
        writer.write_geometry(frame, name, array)
    writer.write_tonemap(frame, rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    return arrays


@pytest.fixture
def small_root(tmp_path):
    writer = HypersimWriter(tmp_path)
    for scene, cameras in {"ai_001_001": ["cam_00", "cam_01"], "ai_002_003": ["cam_00"]}.items():
        for camera in cameras:
            for index in (0, 1, 3):
                write_small_frame(writer, FrameId(scene, camera, index), seed=index)
    M = standard_M_cam_from_uv(H, W)
    rows = [{"scene_name": s, "settings_output_img_height": H, "settings_output_img_width": W,
             "settings_units_info_meters_scale": 0.01,
             **{f"M_cam_from_uv_{r}{c}": M[r, c] for r in range(3) for c in range(3)}}
            for s in ("ai_001_001", "ai_002_003")]
    writer.write_camera_parameters(rows)
    return writer
