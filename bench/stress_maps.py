"""Hard inputs for the boundary benchmark: the maps users and untrained networks produce, not only clean NMS'd ones.

Every family is a function `(height, width, rng) -> (pred_prob, gt_boundaries)`: an (H, W) float64 soft map in
[0, 1] holding multiples of 1/255 (the values an 8-bit PNG stores, so that another tool reading the PNG sees the same
map) and a list of (H, W) bool ground-truth maps, one per annotator. The ground truth of most families is the
1-pixel boundary of a random "scene": a partition of the frame into regions with wavy borders, about one region per
12,000 pixels, so GT density does not depend on the frame size.

Families (`FAMILIES`):

| family | prediction | ground truth |
|---|---|---|
| `nms_like` | the true boundaries shifted up to 2 px, NMS'd, with sparse weak noise (the easy case) | scene |
| `untrained` | 0.5 +- 0.01 everywhere (an untrained network's sigmoid) | scene |
| `uniform_noise` | U(0, 1) everywhere: every threshold changes 1 % of the pixels | scene |
| `smooth_field` | a smooth random field (Gaussian-filtered noise, sigma 2 % of the diagonal) | scene |
| `texture` | true boundaries plus dense texture responses (gradient magnitude of band-passed noise) | scene |
| `soft_thick` | soft boundaries 7 px wide, not NMS'd (a trained network before NMS) | scene |
| `stripes` | parallel ridges every 3 px across the frame | scene |
| `all_zeros`, `all_ones` | constant 0, constant 1 | scene |
| `single_gt_pixel` | `texture` | one pixel |
| `empty_gt` | `soft_thick` | none |
| `gt_everywhere` | `uniform_noise` | every pixel |
| `five_annotators` | `texture` | five annotators: each merges some regions, shifts by <= 1 px, adds own strokes |
| `five_annotators_nms` | `nms_like` (a detector's NMS'd output, the usual BSDS input) | five annotators, as above |
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from obtoolkit.metrics.nms import edge_nms

Family = Callable[[int, int, np.random.Generator], tuple[np.ndarray, list[np.ndarray]]]

PIXELS_PER_REGION = 12_000


def quantize(prob: np.ndarray) -> np.ndarray:
    """(H, W) float64: `prob` clipped to [0, 1] and rounded to a multiple of 1/255 (what an 8-bit PNG holds)."""
    return np.round(np.clip(prob, 0.0, 1.0) * 255.0) / 255.0


def scene_labels(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) int64 region ids: a Voronoi partition whose borders are made wavy by a smooth displacement field."""
    n_regions = max(2, round(height * width / PIXELS_PER_REGION))
    seeds = rng.random((n_regions, 2)) * [height, width]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    amplitude, sigma = 0.02 * (height + width), 0.03 * (height + width)
    yy += amplitude * _unit_field(height, width, sigma, rng)
    xx += amplitude * _unit_field(height, width, sigma, rng)
    best = np.full((height, width), np.inf)
    labels = np.zeros((height, width), dtype=np.int64)
    for k, (sy, sx) in enumerate(seeds):
        d = (yy - sy) ** 2 + (xx - sx) ** 2
        closer = d < best
        best[closer], labels[closer] = d[closer], k
    return labels


def _unit_field(height: int, width: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal((height, width)), sigma, mode="wrap")
    return field / max(float(np.abs(field).max()), 1e-12)


def label_boundaries(labels: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose right or lower neighbour has another label (1-pixel borders)."""
    edges = np.zeros(labels.shape, dtype=bool)
    edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edges[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return edges


def scene_gt(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) bool 1-pixel boundaries of a random scene."""
    return label_boundaries(scene_labels(height, width, rng))


def _shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = mask[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
    return out


def _blurred_boundaries(gt: np.ndarray, rng: np.random.Generator, max_shift: int, width_px: float) -> np.ndarray:
    """Soft responses along `gt`, shifted by up to `max_shift` px, peak strengths 0.4-1 per region border."""
    dy, dx = rng.integers(-max_shift, max_shift + 1, 2)
    distance = ndimage.distance_transform_edt(~_shifted(gt, int(dy), int(dx)))
    strength = 0.4 + 0.6 * (0.5 + 0.5 * _unit_field(*gt.shape, 0.05 * sum(gt.shape), rng))
    return strength * np.exp(-0.5 * (distance / width_px) ** 2)


def _texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Dense texture edge responses in [0, 0.75]: gradient magnitude of band-passed noise."""
    noise = rng.standard_normal((height, width))
    band = ndimage.gaussian_filter(noise, 1.5) - ndimage.gaussian_filter(noise, 4.0)
    magnitude = np.hypot(ndimage.sobel(band, 0), ndimage.sobel(band, 1))
    return 0.75 * magnitude / max(float(magnitude.max()), 1e-12)


def nms_like(height, width, rng):
    gt = scene_gt(height, width, rng)
    soft = _blurred_boundaries(gt, rng, 2, 1.2)
    soft = soft + (rng.random((height, width)) < 0.02) * rng.random((height, width)) * 0.3
    return quantize(edge_nms(np.clip(soft, 0, 1))), [gt]


def untrained(height, width, rng):
    return quantize(0.5 + rng.uniform(-0.01, 0.01, (height, width))), [scene_gt(height, width, rng)]


def uniform_noise(height, width, rng):
    return quantize(rng.random((height, width))), [scene_gt(height, width, rng)]


def smooth_field(height, width, rng):
    field = _unit_field(height, width, 0.02 * np.hypot(height, width), rng)
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-12)
    return quantize(field), [scene_gt(height, width, rng)]


def texture(height, width, rng):
    gt = scene_gt(height, width, rng)
    return quantize(np.maximum(_blurred_boundaries(gt, rng, 1, 1.5), _texture(height, width, rng))), [gt]


def soft_thick(height, width, rng):
    gt = scene_gt(height, width, rng)
    soft = _blurred_boundaries(gt, rng, 1, 1.6)
    distance = ndimage.distance_transform_edt(soft < 0.05 * soft.max())
    return quantize(np.where(distance <= 3.5, soft, 0.0)), [gt]


def stripes(height, width, rng):
    xx = np.arange(width)[None, :] + 0.3 * np.arange(height)[:, None]
    pred = 0.5 + 0.45 * np.cos(2 * np.pi * xx / 3.0) * (0.8 + 0.2 * rng.random((height, width)))
    return quantize(pred), [scene_gt(height, width, rng)]


def all_zeros(height, width, rng):
    return np.zeros((height, width)), [scene_gt(height, width, rng)]


def all_ones(height, width, rng):
    return np.ones((height, width)), [scene_gt(height, width, rng)]


def single_gt_pixel(height, width, rng):
    pred, _ = texture(height, width, rng)
    gt = np.zeros((height, width), dtype=bool)
    gt[height // 2, width // 2] = True
    return pred, [gt]


def empty_gt(height, width, rng):
    pred, _ = soft_thick(height, width, rng)
    return pred, [np.zeros((height, width), dtype=bool)]


def gt_everywhere(height, width, rng):
    return uniform_noise(height, width, rng)[0], [np.ones((height, width), dtype=bool)]


def five_annotators(height, width, rng):
    labels = scene_labels(height, width, rng)
    gt = label_boundaries(labels)
    pred = quantize(np.maximum(_blurred_boundaries(gt, rng, 1, 1.5), _texture(height, width, rng)))
    return pred, [_annotator(labels, rng) for _ in range(5)]


def five_annotators_nms(height, width, rng):
    labels = scene_labels(height, width, rng)
    soft = _blurred_boundaries(label_boundaries(labels), rng, 2, 1.2)
    soft = soft + (rng.random((height, width)) < 0.02) * rng.random((height, width)) * 0.3
    return quantize(edge_nms(np.clip(soft, 0, 1))), [_annotator(labels, rng) for _ in range(5)]


def _annotator(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One annotator: merges some neighbouring regions (drops their border), shifts by <= 1 px, adds own strokes."""
    n = int(labels.max()) + 1
    merged = np.arange(n)
    for k in rng.choice(n, size=int(rng.uniform(0.0, 0.3) * n), replace=False):
        merged[k] = merged[max(k - 1, 0)]
    gt = _shifted(label_boundaries(merged[labels]), *(int(v) for v in rng.integers(-1, 2, 2)))
    h, w = labels.shape
    for _ in range(3):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        length = int(rng.integers(10, max(11, min(h, w) // 4)))
        angle = rng.uniform(0, np.pi)
        t = np.arange(length)
        ys = np.clip(np.round(y0 + t * np.sin(angle)).astype(int), 0, h - 1)
        xs = np.clip(np.round(x0 + t * np.cos(angle)).astype(int), 0, w - 1)
        gt[ys, xs] = True
    return gt


FAMILIES: dict[str, Family] = {
    f.__name__: f for f in (nms_like, untrained, uniform_noise, smooth_field, texture, soft_thick, stripes,
                            all_zeros, all_ones, single_gt_pixel, empty_gt, gt_everywhere, five_annotators,
                            five_annotators_nms)
}


def make_case(family: str, height: int, width: int, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """(pred_prob (H, W) float64 multiples of 1/255, list of (H, W) bool GT maps) of one family."""
    if family not in FAMILIES:
        raise ValueError(f"family: expected one of {sorted(FAMILIES)}, got {family!r}")
    return FAMILIES[family](height, width, np.random.default_rng(seed))
