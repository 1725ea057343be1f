"""A small hand-built Hypersim tree whose frames have known boundaries (an object in front of a wall)."""

from __future__ import annotations

import numpy as np
import pytest

from obtoolkit.hypersim import FrameId
from obtoolkit.synth.writer import HypersimWriter
from tests.obtoolkit.boundaries.scenes import TILT_SHIFT_M, H, W, layered_frame

SCENES = {"ai_001_001": None, "ai_001_002": TILT_SHIFT_M}


def write_layered_tree(root, frames_per_camera: int = 3) -> HypersimWriter:
    writer = HypersimWriter(root)
    rows = []
    split_rows = []
    for index, (scene, M) in enumerate(SCENES.items()):
        for frame in range(frames_per_camera):
            inputs = layered_frame(M=M, front_cols=(6 + 2 * frame, 18 + frame))
            frame_id = FrameId(scene, "cam_00", frame)
            writer.write_geometry(frame_id, "depth_meters", inputs.distance_m.astype(np.float16))
            writer.write_geometry(frame_id, "normal_cam", inputs.normal_cam.astype(np.float16))
            for name in ("semantic", "semantic_instance", "render_entity_id"):
                writer.write_geometry(frame_id, name, getattr(inputs, name).astype(np.int16))
            shade = (inputs.distance_m / inputs.distance_m.max() * 255).astype(np.uint8)
            writer.write_tonemap(frame_id, np.repeat(shade[..., None], 3, axis=-1))
            split_rows.append([scene, "cam_00", frame, True, "", ["train", "test"][index]])
        camera_M = M if M is not None else layered_frame().M_cam_from_uv
        rows.append({"scene_name": scene, "settings_output_img_height": H, "settings_output_img_width": W,
                     "settings_units_info_meters_scale": 0.01,
                     **{f"M_cam_from_uv_{r}{c}": camera_M[r, c] for r in range(3) for c in range(3)}})
    writer.write_camera_parameters(rows)
    writer.write_split(split_rows)
    return writer


@pytest.fixture
def layered_tree(tmp_path):
    return write_layered_tree(tmp_path / "hypersim").layout.root
