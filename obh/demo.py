"""`obh demo`: the bundled end-to-end run on synthetic data.

For now: generate one small synthetic scene (the real tilt-shift camera), read it back through `obtoolkit.hypersim`
like any Hypersim scene, and write `contact_sheet.png` (RGB, depth, normals, instances, reference boundaries).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import numpy as np

DEMO_HEIGHT, DEMO_WIDTH, DEMO_FRAMES, DEMO_SEED = 192, 256, 2, 0


def run_demo(out_dir: Path | None) -> Path:
    """Write the demo into `out_dir` (a new temporary folder when None); returns the contact sheet's path."""
    from obtoolkit.synth.cameras import TILT_SHIFT
    from obtoolkit.synth.generate import make_synthetic_dataset

    out = Path(tempfile.mkdtemp(prefix="obh_demo_")) if out_dir is None else Path(out_dir)
    root = out / "hypersim"
    click.echo(f"generating a synthetic Hypersim scene ({DEMO_WIDTH}x{DEMO_HEIGHT}) under {root} ...")
    (scene,) = make_synthetic_dataset(root, scenes=1, frames=DEMO_FRAMES, seed=DEMO_SEED, height=DEMO_HEIGHT,
                                      width=DEMO_WIDTH, camera_models=(TILT_SHIFT,))
    tiles = []
    for row in _read_back(root, scene):
        tiles.extend(row)
    from obtoolkit.viz import contact_sheet, save_png

    path = save_png(out / "contact_sheet.png", contact_sheet(tiles, columns=5))
    click.echo(f"contact sheet: {path}")
    return path


def _read_back(root: Path, scene: str) -> list[list[tuple[str, np.ndarray]]]:
    """One row of captioned pictures per camera (its first frame), read through obtoolkit.hypersim."""
    from obtoolkit.hypersim import (
        HypersimLayout,
        list_cameras,
        list_frames,
        read_camera_parameters,
        read_frame_geometry,
        read_tonemap,
    )
    from obtoolkit.synth.reference import CLASS_NAMES, read_reference
    from obtoolkit.viz import boundary_overlay, depth_to_rgb, ids_to_rgb, normals_to_rgb

    layout = HypersimLayout(root)
    camera = read_camera_parameters(layout.camera_parameters_csv).camera(scene)
    kind = "standard" if camera.is_standard() else "tilt-shift"
    rows = []
    for camera_name in list_cameras(root, scene):
        frame = list_frames(root, scene, camera_name)[0]
        geometry = read_frame_geometry(layout, frame, shape_hw=camera.shape_hw)
        rgb = read_tonemap(layout, frame, shape_hw=camera.shape_hw)
        classes = read_reference(root, frame).occluder_class()
        counts = ", ".join(f"{CLASS_NAMES[c]} {int((classes == c).sum())}" for c in (1, 2, 3))
        click.echo(f"{frame} ({kind} camera): occluder pixels {counts}")
        rows.append([
            (f"{frame.camera} f{frame.frame} tonemap", rgb),
            ("depth_meters", depth_to_rgb(geometry.distance_m, geometry.valid_mask)),
            ("normal_cam", normals_to_rgb(geometry.normal_cam, geometry.valid_mask)),
            ("semantic_instance", ids_to_rgb(geometry.semantic_instance, invalid_below=1)),
            ("ref. OBs void/inter/self", boundary_overlay(rgb, classes)),
        ])
    return rows
