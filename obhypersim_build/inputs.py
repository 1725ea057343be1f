"""What a frame is made from: its input files checked before they are labelled or copied, and their identity.

`check_rgb_input` decodes the tonemapped JPEG completely, so that a random, empty or truncated file fails its frame
(naming the file) instead of being copied into the dataset as if it were a picture. `inputs_key` summarises what the
frame's outputs were made from (size and modification time of every per-frame input file, and the scene's camera
row): a frame is skipped on a rerun only when its recorded key is unchanged, so fixing or replacing a source file
redoes its frame. Size and mtime are read with one `stat` per file; hashing the contents (about 12 MB per Hypersim
frame) would make a rerun that skips everything read the whole dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from obtoolkit.errors import FormatError
from obtoolkit.hypersim import FrameId, HypersimCamera, HypersimLayout
from obtoolkit.hypersim.frames import DEFAULT_GEOMETRY_KINDS
from obtoolkit.limits import open_image
from obtoolkit.manifest import STATUS_OK

INPUTS_KEY = "inputs_key"  # the field of a frame's stats JSON that records its inputs' identity


def check_rgb_input(path: Path, shape_hw: tuple[int, int], max_pixels: int, *, what: str) -> None:
    """Decode the image at `path` completely and check its size; raises an error naming the file otherwise.

    The header's size is checked (against the camera's frame size and `max_pixels`) before any pixel is decoded.
    """
    with open_image(path, what=what, max_pixels=max_pixels) as image:
        if (image.height, image.width) != tuple(shape_hw):
            raise FormatError(path, f"size {shape_hw[1]}x{shape_hw[0]} ({what})", f"{image.width}x{image.height}")
        image.load()


def input_files(layout: HypersimLayout, frame: FrameId) -> list[Path]:
    """The per-frame files `obh generate` reads: the geometry HDF5 modalities and the tonemapped JPEG."""
    return [*(layout.geometry_path(frame, kind) for kind in DEFAULT_GEOMETRY_KINDS), layout.tonemap_path(frame)]


def inputs_key(layout: HypersimLayout, frame: FrameId, camera: HypersimCamera) -> str:
    """A digest of the frame's input files' (name, size, mtime) and its camera row; it changes when any of them
    does (a missing file counts as a state of its own)."""
    files = []
    for path in input_files(layout, frame):
        try:
            stat = os.stat(path)
            files.append([path.name, stat.st_size, stat.st_mtime_ns])
        except FileNotFoundError:
            files.append([path.name, None, None])
    row = [camera.M_cam_from_uv.tolist(), camera.height, camera.width, camera.meters_per_asset_unit]
    canonical = json.dumps([files, row], separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def finished_record(stats: dict | None, params_hash: str, key: str) -> dict | None:
    """The manifest row recorded in a frame's stats JSON when the frame is finished and up to date (labelled ok,
    with these parameters, from inputs with this `inputs_key`), else None."""
    if not stats or stats.get("status") != STATUS_OK or stats.get("params_hash") != params_hash:
        return None
    if stats.get(INPUTS_KEY) != key:
        return None
    return {name: value for name, value in stats.items() if name != INPUTS_KEY}
