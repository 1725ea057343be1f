"""Pictures: colour maps for depth, normals and id maps, boundary overlays, and captioned contact sheets.

Every function is pure: arrays in, uint8 RGB (H, W, 3) out; only `save_png` writes (atomically). Invalid pixels (NaN,
or outside an explicit `valid_mask`) are drawn in `INVALID_RGB` grey so that they never look like data.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from obtoolkit._checks import check_array
from obtoolkit.fileio import atomic_path

INVALID_RGB = (128, 128, 128)
# One colour map for depth in every picture (labels, predictions, reports, TensorBoard): viridis is perceptually
# uniform, reads in greyscale and for colour-blind viewers, and never passes through INVALID_RGB's grey.
DEPTH_CMAP = "viridis"
# Signed errors (prediction - reference): blue too small, white right, red too large.
SIGNED_ERROR_CMAP = "RdBu_r"
# Occlusion-boundary classes (0 none, 1 void, 2 inter-object, 3 self-occlusion) as in obtoolkit.synth.reference.
BOUNDARY_CLASS_RGB: dict[int, tuple[int, int, int]] = {1: (255, 200, 0), 2: (255, 40, 40), 3: (40, 230, 40)}
_GOLDEN = 0.6180339887498949


def _valid(values: np.ndarray, valid_mask: np.ndarray | None, channel_axis: bool) -> np.ndarray:
    finite = np.isfinite(values).all(axis=-1) if channel_axis else np.isfinite(values)
    return finite if valid_mask is None else finite & check_array("valid_mask", valid_mask, shape=finite.shape,
                                                                  kind="b")


def depth_to_rgb(distance_m: np.ndarray, valid_mask: np.ndarray | None = None, *, cmap: str = DEPTH_CMAP,
                 vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Colour-map a distance or depth map (H, W) (metres; NaN = invalid) to uint8 (H, W, 3); invalid pixels grey.

    The range defaults to the 1st..99th percentile of the valid values (near = dark with viridis).
    """
    values = check_array("distance_m", np.asarray(distance_m), shape=(None, None), kind="f")
    return scalar_to_rgb(values, valid_mask, cmap=cmap, vmin=vmin, vmax=vmax)


def scalar_to_rgb(values: np.ndarray, valid_mask: np.ndarray | None = None, *, cmap: str, vmin: float | None = None,
                  vmax: float | None = None) -> np.ndarray:
    """Colour-map any float (H, W) map to uint8 (H, W, 3) over [vmin, vmax] (values outside are clipped); NaN or
    pixels outside `valid_mask` grey. The range defaults to the 1st..99th percentile of the valid values."""
    import matplotlib

    values = np.asarray(check_array("values", np.asarray(values), shape=(None, None), kind="f"), np.float64)
    valid = _valid(values, valid_mask, channel_axis=False)
    rgb = np.empty(values.shape + (3,), np.uint8)
    rgb[:] = INVALID_RGB
    if valid.any():
        lo = np.percentile(values[valid], 1) if vmin is None else vmin
        hi = np.percentile(values[valid], 99) if vmax is None else vmax
        scaled = np.clip((values[valid] - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
        rgb[valid] = np.round(matplotlib.colormaps[cmap](scaled)[:, :3] * 255).astype(np.uint8)
    return rgb


def colorbar(cmap: str, vmin: float, vmax: float, *, label: str, width_px: int = 256, bar_px: int = 12,
             ticks: int = 5) -> np.ndarray:
    """A horizontal colour bar for pictures drawn with `cmap` over [vmin, vmax]: uint8 (bar_px + 28, width_px, 3),
    the bar, `ticks` evenly spaced tick values under it and `label` (e.g. "depth (m)") at the bottom left."""
    import matplotlib

    if ticks < 2 or width_px < 32 or not vmin < vmax:
        raise ValueError(f"colorbar: need ticks >= 2, width_px >= 32 and vmin < vmax, got {ticks}, {width_px}, "
                         f"[{vmin}, {vmax}]")
    margin = 12  # room for the first and last tick labels
    ramp = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, width_px - 2 * margin))[:, :3]
    image = Image.new("RGB", (width_px, bar_px + 28), (255, 255, 255))
    bar = np.round(np.repeat(ramp[None], bar_px, axis=0) * 255).astype(np.uint8)
    image.paste(Image.fromarray(bar, "RGB"), (margin, 0))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default()
    for k in range(ticks):
        x = margin + round(k * (width_px - 2 * margin - 1) / (ticks - 1))
        value = vmin + k * (vmax - vmin) / (ticks - 1)
        text = f"{value:.3g}"
        draw.line([(x, bar_px), (x, bar_px + 3)], fill=(0, 0, 0))
        draw.text((x - 3 * len(text), bar_px + 3), text, fill=(0, 0, 0), font=font)
    draw.text((2, bar_px + 15), label, fill=(0, 0, 0), font=font)
    return np.asarray(image)


def gray_to_rgb(values: np.ndarray, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """A scalar map (H, W) such as a probability, clipped to [vmin, vmax], as a grey uint8 (H, W, 3) picture."""
    values = check_array("values", np.asarray(values), shape=(None, None), kind="fiub").astype(np.float64)
    scaled = np.clip((np.nan_to_num(values, nan=vmin) - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0)
    return np.repeat(np.round(scaled * 255).astype(np.uint8)[..., None], 3, axis=-1)


def normals_to_rgb(normals_hwc: np.ndarray, valid_mask: np.ndarray | None = None) -> np.ndarray:
    """Unit normals (H, W, 3) to uint8 RGB as (n + 1) / 2 (Hypersim's preview convention); invalid pixels grey."""
    normals = np.asarray(check_array("normals_hwc", np.asarray(normals_hwc), shape=(None, None, 3), kind="f"),
                         np.float64)
    valid = _valid(normals, valid_mask, channel_axis=True)
    rgb = np.empty(normals.shape, np.uint8)
    rgb[:] = INVALID_RGB
    rgb[valid] = np.round(np.clip((normals[valid] + 1.0) / 2.0, 0.0, 1.0) * 255).astype(np.uint8)
    return rgb


def id_colors(ids: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Distinct, deterministic colours for integer ids: uint8 (..., 3). Consecutive ids get far-apart hues."""
    import matplotlib.colors

    ids = np.asarray(ids, np.int64)
    hue = np.mod(ids * _GOLDEN + 0.1 * seed, 1.0)
    saturation = 0.55 + 0.4 * np.mod(ids * 7, 3) / 2.0
    value = 0.75 + 0.25 * np.mod(ids * 5, 2)
    hsv = np.stack([hue, saturation, value], axis=-1)
    return np.round(matplotlib.colors.hsv_to_rgb(hsv) * 255).astype(np.uint8)


def ids_to_rgb(ids: np.ndarray, *, invalid_below: int = 0, seed: int = 0,
               invalid_rgb: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """An id map (H, W) (render_entity_id, semantic_instance, ...) to uint8 (H, W, 3); ids < `invalid_below` black."""
    ids = np.asarray(check_array("ids", np.asarray(ids), shape=(None, None), kind="iu"), np.int64)
    rgb = id_colors(ids, seed=seed)
    rgb[ids < invalid_below] = invalid_rgb
    return rgb


def boundary_overlay(rgb: np.ndarray, class_map: np.ndarray, *,
                     colors: Mapping[int, tuple[int, int, int]] = BOUNDARY_CLASS_RGB, dim: float = 0.5) -> np.ndarray:
    """Paint boundary pixels over a dimmed image: uint8 (H, W, 3).

    Args:
        rgb: uint8 (H, W, 3) background picture.
        class_map: integer (H, W); pixels whose value is a key of `colors` are painted in that colour.
        colors: class -> RGB (default: void yellow, inter-object red, self-occlusion green).
        dim: brightness factor of the background (1 keeps it).
    """
    rgb = check_array("rgb", np.asarray(rgb), shape=(None, None, 3), dtype=np.uint8)
    class_map = check_array("class_map", np.asarray(class_map), shape=rgb.shape[:2], kind="iub")
    out = np.round(rgb.astype(np.float64) * dim).astype(np.uint8)
    for value, color in colors.items():
        out[class_map == value] = color
    return out


def orientation_to_rgb(theta: np.ndarray, boundary: np.ndarray, background: np.ndarray | None = None, *,
                       dim: float = 0.35, legend: bool = True) -> np.ndarray:
    """Occlusion orientation as a colour wheel: hue = theta (radians, (-pi, pi]) on boundary pixels.

    Args:
        theta: float (H, W) tangent angle, occluder on the left (obtoolkit.boundaries.orientation); NaN = undefined
            (drawn white).
        boundary: bool (H, W) pixels to colour.
        background: optional uint8 (H, W, 3) picture shown dimmed behind; black otherwise.
        legend: draw a small colour wheel in the top-left corner (arrow = the wheel's own angle convention).
    """
    boundary = check_array("boundary", np.asarray(boundary), kind="b", shape=(None, None))
    height, width = boundary.shape
    out = np.zeros((height, width, 3), np.uint8) if background is None else np.round(
        check_array("background", background, shape=(height, width, 3), dtype=np.uint8) * dim).astype(np.uint8)
    defined = boundary & np.isfinite(theta)
    out[defined] = _hue_rgb(theta[defined])
    out[boundary & ~defined] = (255, 255, 255)
    if legend and min(height, width) >= 48:
        _draw_wheel(out, radius=max(8, min(height, width) // 12))
    return out


def _hue_rgb(angle: np.ndarray) -> np.ndarray:
    """Fully saturated colours whose hue follows the angle: uint8 (N, 3)."""
    from matplotlib.colors import hsv_to_rgb

    hue = (np.asarray(angle, np.float64) + np.pi) / (2 * np.pi)
    hsv = np.stack([hue % 1.0, np.ones_like(hue), np.ones_like(hue)], axis=-1)
    return np.round(hsv_to_rgb(hsv) * 255).astype(np.uint8)


def _draw_wheel(out: np.ndarray, radius: int) -> None:
    """A colour-wheel legend (angle measured in image coordinates, rows down) in the top-left corner."""
    centre = radius + 2
    rows, cols = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    ring = (np.hypot(rows, cols) <= radius) & (np.hypot(rows, cols) >= radius * 0.45)
    angle = np.arctan2(rows, cols)
    patch = out[centre - radius:centre + radius + 1, centre - radius:centre + radius + 1]
    patch[ring] = _hue_rgb(angle[ring])


def orientation_arrows(rgb: np.ndarray, theta: np.ndarray, boundary: np.ndarray, *, step: int = 12,
                       length_px: float = 6.0, color: tuple[int, int, int] = (255, 255, 0)) -> np.ndarray:
    """Sparse arrows from occluder to occluded, (-sin theta, cos theta) in (column, row), on a dimmed picture.

    One arrow per `step` x `step` cell that holds a boundary pixel with a defined orientation (the first in raster
    order), drawn from that pixel.
    """
    rgb = check_array("rgb", np.asarray(rgb), shape=(None, None, 3), dtype=np.uint8)
    image = Image.fromarray(np.round(rgb * 0.6).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    ys, xs = np.nonzero(boundary & np.isfinite(theta))
    _, first = np.unique((ys // step) * (rgb.shape[1] // step + 1) + xs // step, return_index=True)
    for y, x in zip(ys[first], xs[first], strict=True):
        dx, dy = -np.sin(theta[y, x]) * length_px, np.cos(theta[y, x]) * length_px
        tip = (x + dx, y + dy)
        draw.line([(x, y), tip], fill=color, width=1)
        left = (tip[0] - 0.4 * dx + 0.3 * dy, tip[1] - 0.4 * dy - 0.3 * dx)
        right = (tip[0] - 0.4 * dx - 0.3 * dy, tip[1] - 0.4 * dy + 0.3 * dx)
        draw.polygon([tip, left, right], fill=color)
        draw.point((x, y), fill=(255, 0, 255))
    return np.asarray(image)


def labels_picture(ob_class: np.ndarray, instance_contour: np.ndarray, theta: np.ndarray, ob: np.ndarray,
                   valid_mask: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """One frame's labels side by side, uint8 (H + 14, 3 * (W + 4), 3), captioned: boundaries by class (void
    yellow, inter-object red, self-occlusion green), instance contours (white), orientation (colour wheel).

    Args:
        ob_class: uint8 (H, W) class of each boundary pixel (0 none). instance_contour, ob, valid_mask: bool (H, W).
        theta: float (H, W) orientation in radians, NaN where undefined.
        background: optional uint8 (H, W, 3) picture behind the boundaries; else the valid mask (grey where
            invalid).
    """
    valid_mask = check_array("valid_mask", np.asarray(valid_mask), shape=(None, None), dtype=bool)
    if background is None:
        background = np.where(valid_mask[..., None], np.uint8(200), np.asarray(INVALID_RGB, np.uint8))
        background = background.astype(np.uint8)
    contours = np.round(background.astype(np.float64) * 0.35).astype(np.uint8)
    contours[np.asarray(instance_contour, bool)] = (255, 255, 255)
    return contact_sheet([("boundaries by class", boundary_overlay(background, ob_class)),
                          ("instance contours", contours),
                          ("orientation", orientation_to_rgb(theta, np.asarray(ob, bool), background))], columns=3)


def png_bytes(rgb: np.ndarray) -> bytes:
    """uint8 (H, W, 3) RGB encoded as PNG (what a notebook's `_repr_png_` returns)."""
    rgb = check_array("rgb", np.asarray(rgb), shape=(None, None, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def contact_sheet(tiles: Sequence[tuple[str, np.ndarray]], *, columns: int, caption_px: int = 14,
                  gap_px: int = 4, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Tile captioned pictures row by row: uint8 (rows * (h + caption + gap), columns * (w + gap), 3).

    Args:
        tiles: (caption, uint8 (h, w, 3) picture) pairs; pictures of another size are resized (nearest) to the
            first picture's size.
        columns: pictures per row.
        caption_px: height of the caption strip above each picture.
    """
    if not tiles or columns < 1:
        raise ValueError("contact_sheet needs at least one tile and columns >= 1")
    height, width = tiles[0][1].shape[:2]
    rows = -(-len(tiles) // columns)
    cell_h, cell_w = caption_px + height + gap_px, width + gap_px
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), background)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for index, (caption, picture) in enumerate(tiles):
        picture = check_array(f"tile {caption!r}", np.asarray(picture), shape=(None, None, 3), dtype=np.uint8)
        image = Image.fromarray(picture, "RGB")
        if image.size != (width, height):
            image = image.resize((width, height), Image.NEAREST)
        x, y = (index % columns) * cell_w, (index // columns) * cell_h
        draw.text((x + 2, y + 1), caption, fill=(0, 0, 0), font=font)
        sheet.paste(image, (x, y + caption_px))
    return np.asarray(sheet)


def save_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write uint8 (H, W, 3) RGB as a PNG, atomically; returns the path."""
    rgb = check_array("rgb", np.asarray(rgb), shape=(None, None, 3), dtype=np.uint8)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(rgb, "RGB").save(tmp, "PNG")
    return path
