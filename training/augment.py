"""Training augmentations of the MoDOT recipe (spec modot.md §3.1), on numpy arrays, with an explicit RNG.

Order: random crop, horizontal flip (image, depth, valid mask, boundary target and orientation together), mmseg's
PhotoMetricDistortion (image only), then ImageNet normalisation. Every random choice comes from the numpy Generator
passed in, so a sample is a pure function of (seed, epoch, index): resuming a run reproduces its batches exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    """crop_hw: random crop size (None = full image); hflip: flip probability; photometric: mmseg's distortion."""

    crop_hw: tuple[int, int] | None = (320, 320)
    hflip: float = 0.5
    photometric: bool = True
    brightness_delta: float = 32.0
    contrast_range: tuple[float, float] = (0.5, 1.5)
    saturation_range: tuple[float, float] = (0.5, 1.5)
    hue_delta: float = 18.0  # in OpenCV's 0..180 hue units, as mmseg


def random_crop(arrays: dict[str, np.ndarray], crop_hw: tuple[int, int], rng: np.random.Generator):
    """Crop every (H, W, ...) array at one random window; arrays smaller than the crop are an error."""
    height, width = next(iter(arrays.values())).shape[:2]
    crop_h, crop_w = crop_hw
    if crop_h > height or crop_w > width:
        raise ValueError(f"crop {crop_hw} is larger than the image {(height, width)}")
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    return {k: v[top:top + crop_h, left:left + crop_w] for k, v in arrays.items()}


def flip_orientation(theta: np.ndarray) -> np.ndarray:
    """The orientation after a horizontal flip (NaN stays NaN).

    theta is the tangent with the occluder on the left; mirroring the image swaps left and right, so the mirrored
    boundary keeps the occluder on the left only when walked the other way: (cos, sin) -> (cos, -sin), theta -> -theta.
    """
    return -theta


def horizontal_flip(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {k: np.ascontiguousarray(v[:, ::-1]) for k, v in arrays.items()}
    if "theta" in out:
        out["theta"] = flip_orientation(out["theta"])
    return out


def photometric_distortion(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """mmseg's PhotoMetricDistortion on float32 RGB (H, W, 3) in 0..255.

    Brightness +-delta, then contrast x[lo, hi] either first or last (a coin decides), saturation x[lo, hi] and
    hue +-delta (integer steps of OpenCV's 0..180 hue scale) in HSV; each step applies with probability 0.5.
    Values stay float (mmseg rounds to uint8 after each step; the difference is below one grey level).
    """
    image = image.astype(np.float32)
    if rng.integers(2):
        image = np.clip(image + rng.uniform(-config.brightness_delta, config.brightness_delta), 0, 255)
    contrast_first = bool(rng.integers(2))
    if contrast_first and rng.integers(2):
        image = np.clip(image * rng.uniform(*config.contrast_range), 0, 255)
    saturate, shift_hue = bool(rng.integers(2)), bool(rng.integers(2))
    if saturate or shift_hue:
        hsv = rgb_to_hsv(image)
        if saturate:
            hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(*config.saturation_range), 0, 1)
        if shift_hue:
            delta = int(rng.integers(-int(config.hue_delta), int(config.hue_delta) + 1))
            hsv[..., 0] = (hsv[..., 0] + delta / 180.0) % 1.0
        image = hsv_to_rgb(hsv)
    if not contrast_first and rng.integers(2):
        image = np.clip(image * rng.uniform(*config.contrast_range), 0, 255)
    return image


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """RGB 0..255 -> HSV with h, s, v in 0..1 (float32)."""
    from matplotlib.colors import rgb_to_hsv as convert

    return convert(np.clip(rgb / 255.0, 0, 1)).astype(np.float32)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    from matplotlib.colors import hsv_to_rgb as convert

    return (convert(np.clip(hsv, 0, 1)) * 255.0).astype(np.float32)


def normalize_image(image: np.ndarray) -> np.ndarray:
    """ImageNet normalisation of RGB 0..255 (H, W, 3) -> float32 (3, H, W)."""
    return np.ascontiguousarray(((image / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1), np.float32)


def denormalize_image(image_chw: np.ndarray) -> np.ndarray:
    """The inverse of `normalize_image`, for pictures: float (3, H, W) -> uint8 RGB (H, W, 3)."""
    rgb = (image_chw.transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN) * 255.0
    return np.round(np.clip(rgb, 0, 255)).astype(np.uint8)


def augment(arrays: dict[str, np.ndarray], rng: np.random.Generator, config: AugmentConfig) -> dict[str, np.ndarray]:
    """Crop, flip and distort one training sample (the "image" array is RGB 0..255 (H, W, 3))."""
    if config.crop_hw is not None:
        arrays = random_crop(arrays, config.crop_hw, rng)
    if rng.random() < config.hflip:
        arrays = horizontal_flip(arrays)
    if config.photometric:
        arrays = {**arrays, "image": photometric_distortion(arrays["image"], rng, config)}
    return arrays
