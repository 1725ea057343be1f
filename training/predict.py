"""`obh predict`: depth and occlusion-boundary maps for images, from one of our MoDOT checkpoints.

Per input image `NAME.ext` it writes, into the output folder:
    NAME_depth.png       depth in colour (turbo, 2nd-98th percentile range)
    NAME_boundary.png    boundary probability of the final OB map, 8-bit grey (255 = 1.0)
    NAME_overlay.png     the image with the boundary probability blended in red
and with `save_raw`:
    NAME_depth_m.npy     float32 (H, W) depth in metres (network units x the checkpoint's depth_unit_m)
    NAME_boundary.npy    float32 (H, W) boundary probability in [0, 1]

Images are run at their own size (any size works), normalised like the training data (RGB / 255, ImageNet mean
and std). With flip TTA the prediction of the mirrored image is mirrored back and fused as in the official
evaluation: boundary probabilities are averaged; depths are averaged except near the left and right borders
(the outer 5 % to 10 % of the width), where a linear ramp hands over to the prediction that saw that border
un-mirrored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.fileio import atomic_path
from training.checkpoints import load_model_checkpoint
from training.colorize import colorize, overlay_boundary

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class Prediction:
    """depth_m: float32 (H, W) metres; boundary_probability: float32 (H, W) in [0, 1]."""

    depth_m: np.ndarray
    boundary_probability: np.ndarray


def find_images(path: str | Path) -> list[Path]:
    """The image itself, or the images directly inside a folder (sorted by name)."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(path, "an image or a folder of images")
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise FormatError(path, f"an image ({', '.join(sorted(IMAGE_SUFFIXES))})", path.suffix or "no suffix")
        return [path]
    images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise MissingFileError(path, f"images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
    stems = [p.stem for p in images]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise FormatError(path, "one image per name", f"several files named {', '.join(duplicates)}.*")
    return images


def read_image_rgb(path: Path) -> np.ndarray:
    """uint8 RGB (H, W, 3) from any Pillow-readable image."""
    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"), dtype=np.uint8)
    except OSError as error:
        raise FormatError(path, "a readable image", str(error)) from error


def image_to_tensor(rgb_hwc: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 RGB (H, W, 3) -> float32 (1, 3, H, W), divided by 255 and ImageNet-normalised."""
    x = torch.from_numpy(np.require(rgb_hwc, requirements=("C", "W"))).to(device=device, dtype=torch.float32)
    x = x.permute(2, 0, 1).unsqueeze(0) / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


def fuse_flipped_depth(depth: torch.Tensor, depth_flipped_back: torch.Tensor) -> torch.Tensor:
    """The official flip-TTA depth fusion (NeWCRFs' `post_process_depth`), for (B, 1, H, W) tensors.

    Mean of the two, except near the borders: on the left 5 % the mirrored-back prediction is used, on the right
    5 % the plain one, with linear ramps to the mean between 5 % and 10 % of the width.
    """
    width = depth.shape[-1]
    xs = torch.linspace(0.0, 1.0, width, device=depth.device, dtype=depth.dtype)
    left = 1.0 - torch.clamp(20.0 * (xs - 0.05), 0.0, 1.0)  # 1 on the left border, 0 from 10 % on
    right = torch.flip(left, dims=[0])
    mean = 0.5 * (depth + depth_flipped_back)
    return right * depth + left * depth_flipped_back + (1.0 - left - right) * mean


@torch.no_grad()
def predict_tensor(model: torch.nn.Module, image: torch.Tensor, *, flip_tta: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth (network units) and final boundary probability, both (B, 1, H, W), for a normalised batch."""
    out = model(image)
    depth, probability = out.depth, torch.sigmoid(out.boundary_logits[-1])
    if flip_tta:
        flipped = model(torch.flip(image, dims=[-1]))
        depth = fuse_flipped_depth(depth, torch.flip(flipped.depth, dims=[-1]))
        probability = 0.5 * (probability + torch.sigmoid(torch.flip(flipped.boundary_logits[-1], dims=[-1])))
    return depth, probability


def _save_png(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def write_prediction(out_dir: Path, stem: str, rgb_hwc: np.ndarray, prediction: Prediction, *,
                     save_raw: bool) -> list[Path]:
    """Write the pictures (and raw arrays with `save_raw`) of one image; returns the written paths."""
    probability = prediction.boundary_probability
    paths = {
        f"{stem}_depth.png": lambda p: _save_png(p, colorize(prediction.depth_m, "turbo")),
        f"{stem}_boundary.png": lambda p: _save_png(p, np.round(probability * 255.0).astype(np.uint8)),
        f"{stem}_overlay.png": lambda p: _save_png(p, overlay_boundary(rgb_hwc, probability)),
    }
    if save_raw:
        paths[f"{stem}_depth_m.npy"] = lambda p: _save_npy(p, prediction.depth_m)
        paths[f"{stem}_boundary.npy"] = lambda p: _save_npy(p, probability)
    written = []
    for name, write in paths.items():
        write(out_dir / name)
        written.append(out_dir / name)
    return written


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else is passed to torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def predict_images(model: torch.nn.Module, depth_unit_m: float, images: Sequence[Path], out_dir: Path, *,
                   flip_tta: bool = False, save_raw: bool = False, progress: bool = True) -> list[Path]:
    """Run `model` (in eval mode, on its own device) on every image and write the results into `out_dir`."""
    model.eval()
    device = next(model.parameters()).device
    written = []
    for path in tqdm(images, desc="predict", unit="image", disable=not progress):
        rgb = read_image_rgb(path)
        depth, probability = predict_tensor(model, image_to_tensor(rgb, device), flip_tta=flip_tta)
        prediction = Prediction(
            depth_m=(depth[0, 0].float().cpu().numpy() * depth_unit_m).astype(np.float32),
            boundary_probability=probability[0, 0].float().cpu().numpy().astype(np.float32),
        )
        written += write_prediction(out_dir, path.stem, rgb, prediction, save_raw=save_raw)
    return written


def run_predict(checkpoint: str | Path, inputs: str | Path, out_dir: str | Path, *, flip_tta: bool = False,
                save_raw: bool = False, device: str = "auto", progress: bool = True) -> list[Path]:
    """Load one of our checkpoints and predict every image of `inputs` (a file or a folder) into `out_dir`."""
    images = find_images(inputs)
    model, info = load_model_checkpoint(checkpoint, map_location=resolve_device(device))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return predict_images(model, info.depth_unit_m, images, out_dir, flip_tta=flip_tta, save_raw=save_raw,
                          progress=progress)
