"""`obh predict`: depth and occlusion-boundary maps for images, from one of our MoDOT checkpoints.

Per input image `NAME.ext` it writes, into the output folder:
    NAME_depth.png       depth in colour (viridis, as every picture of the project; 2nd-98th percentile range)
    NAME_boundary.png    boundary probability of the final OB map, 8-bit grey (255 = 1.0)
    NAME_overlay.png     the image with the boundary probability blended in red
and with `save_raw`:
    NAME_depth_m.npy     float32 (H, W) depth in metres (network units x the checkpoint's depth_unit_m)
    NAME_boundary.npy    float32 (H, W) boundary probability in [0, 1]

Images are run at their own size (any size works), normalised like the training data (RGB / 255, ImageNet mean
and std: `training.augment.normalize_image`), through `training.inference` as `obh evaluate` runs them. With flip TTA
the prediction of the mirrored image is mirrored back and fused as in the official evaluation: boundary
probabilities are averaged; depths are averaged except near the left and right borders (the outer 5 % to 10 % of
the width), where a linear ramp hands over to the prediction that saw that border un-mirrored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from obtoolkit.errors import FormatError, MissingFileError, OBToolkitError
from obtoolkit.fileio import atomic_path
from obtoolkit.limits import open_image
from obtoolkit.viz import DEPTH_CMAP, png_bytes
from training.augment import normalize_image
from training.colorize import colorize, overlay_boundary
from training.evaluate import batches, eval_loader
from training.inference import Amp, copy_to_host, one_behind, predict_batch
from training.pretrained import from_pretrained

_EIGHT_BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class Prediction:
    """depth_m: float32 (H, W) metres; boundary_probability: float32 (H, W) in [0, 1]; None for what a single-task
    model does not predict (its files are not written)."""

    depth_m: np.ndarray | None
    boundary_probability: np.ndarray | None

    def picture(self) -> np.ndarray:
        """uint8 RGB (H, 2W + 4, 3): depth in colour (DEPTH_CMAP, as NAME_depth.png) | boundary probability in
        grey."""
        depth = colorize(self.depth_m, DEPTH_CMAP)
        grey = np.round(np.clip(self.boundary_probability, 0.0, 1.0) * 255.0).astype(np.uint8)
        gap = np.full((depth.shape[0], 4, 3), 255, np.uint8)
        return np.concatenate([depth, gap, np.repeat(grey[..., None], 3, axis=2)], axis=1)

    def _repr_png_(self) -> bytes:
        """The picture, for notebooks (Jupyter shows an object by this method)."""
        return png_bytes(self.picture())



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


# Modes of 16-bit (or wider integer) grey images: Pillow's convert("RGB") clips them at 255.
_WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def read_image_rgb(path: Path, *, notes: list[str] | None = None) -> np.ndarray:
    """uint8 RGB (H, W, 3) from any Pillow-readable 8-bit image, or a 16-bit grey one scaled to 8 bits (value / 257,
    rounded: 65535 -> 255) with a note appended to `notes`; other modes (float images, 32-bit integers beyond 16-bit
    values) are refused. The header's size is checked first (`obtoolkit.limits.open_image`).

    Raises:
        FormatError: unreadable, corrupt, too large (SizeLimitError) or of a mode that has no 8-bit meaning.
    """
    with open_image(path, what="an input image of predict") as image:
        if image.mode not in _WIDE_GREY_MODES:
            if image.mode not in _EIGHT_BIT_MODES:
                raise FormatError(path, "an 8-bit image, or a 16-bit grey one", f"mode {image.mode}")
            return np.array(image.convert("RGB"), dtype=np.uint8)
        values = np.asarray(image)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise FormatError(path, "16-bit values (0..65535)", f"range [{values.min()}, {values.max()}]")
    grey = np.round(values.astype(np.float32) / 257.0).astype(np.uint8)
    if notes is not None:
        notes.append(f"{path}: a 16-bit image, scaled to 8 bits (value / 257) as the network expects")
    return np.repeat(grey[..., None], 3, axis=2)


def _save_png(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def write_prediction(out_dir: Path, stem: str, rgb_hwc: np.ndarray, prediction: Prediction, *,
                     save_raw: bool) -> list[Path]:
    """Write the pictures (and raw arrays with `save_raw`) of one image; returns the written paths."""
    probability, depth_m = prediction.boundary_probability, prediction.depth_m
    paths = {}
    if depth_m is not None:
        paths[f"{stem}_depth.png"] = lambda p: _save_png(p, colorize(depth_m, DEPTH_CMAP))
    if probability is not None:
        paths[f"{stem}_boundary.png"] = lambda p: _save_png(p, np.round(probability * 255.0).astype(np.uint8))
        paths[f"{stem}_overlay.png"] = lambda p: _save_png(p, overlay_boundary(rgb_hwc, probability))
    if save_raw and depth_m is not None:
        paths[f"{stem}_depth_m.npy"] = lambda p: _save_npy(p, depth_m)
    if save_raw and probability is not None:
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


class ImageSample(NamedTuple):
    """name: the file's stem; image: float32 (3, H, W) normalised; rgb: uint8 (H, W, 3) as read; error: why the file
    could not be read ("" when it was; image and rgb are then empty); note: what was done to read it (a 16-bit image
    scaled to 8 bits), or ""."""

    name: str
    image: torch.Tensor
    rgb: torch.Tensor
    error: str = ""
    note: str = ""


class ImageFiles(Dataset):
    """Images read from files and normalised like the training data (`normalize_image`), with their names. A file
    that cannot be read becomes a sample holding its error (in a loader worker too), not an exception."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> ImageSample:
        path, notes = self.paths[index], []
        try:
            rgb = read_image_rgb(path, notes=notes)
        except (OBToolkitError, OSError) as error:
            empty = torch.zeros(3, 0, 0), torch.zeros(0, 0, 3, dtype=torch.uint8)
            return ImageSample(path.stem, *empty, error=str(error) or f"{path}: {type(error).__name__}")
        image = torch.from_numpy(normalize_image(rgb.astype(np.float32)))
        return ImageSample(path.stem, image, torch.from_numpy(rgb), note="; ".join(notes))


@dataclass(frozen=True)
class Predicted:
    """What a predict run did: images: how many it was given; written: the files written; failed: one line per image
    that could not be read (its path and why); notes: one line per image read with a conversion (16-bit scaled to 8
    bits)."""

    images: int
    written: list[Path]
    failed: list[str]
    notes: list[str]


def predict_images(model: torch.nn.Module, depth_unit_m: float, images: Sequence[Path], out_dir: Path, *,
                   flip_tta: bool = False, save_raw: bool = False, progress: bool = True, batch_size: int = 1,
                   workers: int = 0, amp: Amp = "none") -> Predicted:
    """Run `model` (in eval mode, on its own device) on every image and write the results into `out_dir`.

    Images are read by `workers` DataLoader processes and predicted `batch_size` at a time (a batch holds images
    of one size). An image that cannot be read is recorded in `Predicted.failed` and skipped; the others go on.
    """
    model.eval()
    device = next(model.parameters()).device
    loader = eval_loader(ImageFiles(images), batch_size=batch_size, workers=workers, device=device)
    written, failed, notes = [], [], []
    with tqdm(total=len(images), desc="predict", unit="image", disable=not progress) as bar:
        readable = _readable(batches(loader), failed, notes, bar)
        for batch, host in one_behind(readable, lambda b: _start(model, b, device, flip_tta, amp)):
            depth, probability = host.wait()
            for i, name in enumerate(batch.name):
                prediction = Prediction(
                    depth_m=None if depth is None else depth[i, 0].numpy() * np.float32(depth_unit_m),
                    boundary_probability=None if probability is None else probability[i, 0].numpy())
                written += write_prediction(out_dir, name, batch.rgb[i].numpy(), prediction, save_raw=save_raw)
            bar.update(len(batch.name))
    return Predicted(len(images), written, failed, notes)


def _readable(loaded: Iterator[ImageSample], failed: list[str], notes: list[str], bar: tqdm) -> Iterator[ImageSample]:
    """The batches of images that were read; unreadable ones (a batch of their own: empty images have one size) go
    to `failed`, conversion notes to `notes`."""
    for batch in loaded:
        notes += [note for note in batch.note if note]
        if batch.image.numel() == 0:
            failed += list(batch.error)
            bar.update(len(batch.name))
            continue
        yield batch


def predict_image(model: torch.nn.Module, rgb_hwc: np.ndarray, *, depth_unit_m: float,
                  flip_tta: bool = False) -> Prediction:
    """Depth in metres and boundary probability of one uint8 RGB (H, W, 3) image of any size, as `obh predict`
    computes them (normalised like the training data, one forward pass on the model's device, eval mode)."""
    rgb_hwc = np.asarray(rgb_hwc)
    if rgb_hwc.ndim != 3 or rgb_hwc.shape[2] != 3 or rgb_hwc.dtype != np.uint8:
        raise ValueError(f"predict_image: expected uint8 RGB (H, W, 3), got {rgb_hwc.dtype} {rgb_hwc.shape}")
    model.eval()
    device = next(model.parameters()).device
    image = torch.from_numpy(normalize_image(rgb_hwc.astype(np.float32)))[None].to(device)
    out = predict_batch(model, image, flip_tta=flip_tta)
    return Prediction(depth_m=out.depth[0, 0].cpu().numpy() * np.float32(depth_unit_m),
                      boundary_probability=out.probability[0, 0].cpu().numpy())


def _start(model: torch.nn.Module, batch: ImageSample, device: torch.device, flip_tta: bool, amp: Amp):
    prediction = predict_batch(model, batch.image.to(device, non_blocking=True), flip_tta=flip_tta, amp=amp)
    return copy_to_host(prediction.depth, prediction.probability)


def run_predict(checkpoint: str | Path, inputs: str | Path, out_dir: str | Path, *, flip_tta: bool = False,
                save_raw: bool = False, device: str = "auto", progress: bool = True, batch_size: int = 1,
                workers: int = 0, amp: Amp = "none") -> Predicted:
    """Load one of our checkpoints, exported models or run folders (`from_pretrained`) and predict every image of
    `inputs` (a file or a folder) into `out_dir`; images that cannot be read are recorded in the result and
    skipped."""
    images = find_images(inputs)
    model, info = from_pretrained(checkpoint, device=resolve_device(device))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return predict_images(model, info.depth_unit_m, images, out_dir, flip_tta=flip_tta, save_raw=save_raw,
                          progress=progress, batch_size=batch_size, workers=workers, amp=amp)
