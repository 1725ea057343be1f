"""Training samples: the `Sample` every dataset yields, the frame-dataset base class, and OB-Hypersim's dataset.

A sample is a pure function of (frame, options, seed, epoch, index): augmentation randomness is drawn from a numpy
Generator seeded with those numbers, so a resumed run sees exactly the batches an uninterrupted one would. The epoch
travels with the index (`SampleKey`), so loader workers that live for the whole run draw each epoch's augmentation.

`FrameDataset` holds what every dataset shares (skipping broken frames, augmentation, arrays -> `Sample`); a dataset
only says how many frames it has, their names and how one frame's arrays are read. `ObHypersimDataset` reads
OB-Hypersim manifest rows; `training.format_data.FormatDataset` reads every format of `obtoolkit.datasets`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import Dataset

from obtoolkit.boundaries.orientation import decode_ori16
from obtoolkit.errors import FormatError, OBToolkitError
from obtoolkit.geometry import camera_rays
from obtoolkit.hypersim import FrameId, read_camera_parameters, read_hdf5_dataset, read_rgb_image
from obtoolkit.labels_io import read_png, read_valid_mask
from obtoolkit.manifest import STATUS_OK, FrameRecord, read_manifest, table_to_records
from training.augment import AugmentConfig, augment, normalize_image

_LIST_LINE = re.compile(r"^hypersim/(ai_\d{3}_\d{3})/(cam_\d{2})/tonemap/(\d{4})$")


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and what a sample holds.

    Attributes:
        root: dataset root; the manifest's paths are relative to it.
        manifest: the manifest (default: root/manifest.parquet).
        split: rows of this official split ("train", "val", "test"), unless `split_list` is given.
        split_list: a MoDOT-format list (`hypersim/ai_VVV_NNN/cam_XX/tonemap/IIII` per line) selecting the frames.
        depth: "distance" (Hypersim's depth_meters, MoDOT's choice) or "planar" (depth along the camera's axis, from
            the exact rays of `camera_csv`).
        depth_scale: network depth unit in metres: depth = metres / depth_scale (3.05 reproduces the paper's division).
        target: "boundary_or_contour" (MoDOT's target: ob union instance contour) or "boundary" (ob only).
        orientation: also load the orientation (ori16) as theta in radians (NaN where undefined).
        camera_csv: Hypersim's metadata_camera_parameters.csv (needed for planar depth).
        on_error: "raise" (a sample that fails to load stops the run, naming its files) or "skip" (it is replaced by
            the next good sample and counted in `Dataset.failures`).
        augment: training augmentations (None for evaluation).
    """

    root: Path
    manifest: Path | None = None
    split: str = "train"
    split_list: Path | None = None
    depth: Literal["distance", "planar"] = "distance"
    depth_scale: float = 1.0
    target: Literal["boundary_or_contour", "boundary"] = "boundary_or_contour"
    orientation: bool = False
    camera_csv: Path | None = None
    on_error: Literal["raise", "skip"] = "raise"
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)


class Sample(NamedTuple):
    """One training sample (batched by the DataLoader: a leading batch dimension, and `name` a sequence of str).

    image: float32 (3, H, W) ImageNet-normalised RGB; depth: float32 (1, H, W) in network units, 0 where invalid;
    valid: bool (1, H, W) finite depth > 0 (inside the dataset's own depth mask where it has one, and inside the
    generator's valid mask when an OB-Hypersim manifest records one; all False without depth ground truth);
    boundary: float32 (1, H, W) 0/1 target; boundary_valid: bool (1, H, W) where the boundary label is defined (all
    True for OB-Hypersim; all False without OB ground truth); depth_edges: bool (1, H, W) the dataset's own
    annotated depth edges (iBims-1), all False elsewhere; theta: float32 (1, H, W) orientation in radians, NaN where
    undefined (all NaN unless requested); index: int64, the frame's row; skipped: int64, how many failing samples
    this one replaced (on_error "skip"; counted even in worker processes); name: the frame's id (OB-Hypersim
    `scene/camera/frame`; the dataset's frame id otherwise), of the frame actually loaded.
    """

    image: torch.Tensor
    depth: torch.Tensor
    valid: torch.Tensor
    boundary: torch.Tensor
    boundary_valid: torch.Tensor
    depth_edges: torch.Tensor
    theta: torch.Tensor
    index: torch.Tensor
    skipped: torch.Tensor
    name: str

    def tensors_to(self, device: torch.device) -> Sample:
        """The tensors on `device` (asynchronous from pinned memory); the names stay."""
        return self._replace(**{field: getattr(self, field).to(device, non_blocking=True)
                                for field in self._fields if field != "name"})


class SampleKey(NamedTuple):
    """Which sample to make: the frame's row and the epoch whose augmentation it gets."""

    epoch: int
    position: int


def frame_name(record: FrameRecord) -> str:
    """The frame id that travels with a sample: `scene/camera/frame` (frame 4 digits)."""
    return f"{record.scene}/{record.camera}/{record.frame:04d}"


def select_records(config: DataConfig) -> list[FrameRecord]:
    """Manifest rows (status ok) of the configured split or list, sorted by (scene, camera, frame)."""
    manifest = config.manifest or Path(config.root) / "manifest.parquet"
    table = read_manifest(manifest)
    table = table.filter(pc.equal(table["status"].cast(pa.string()), STATUS_OK))
    if config.split_list is None:
        table = table.filter(pc.equal(table["split"].cast(pa.string()), config.split))
        records = table_to_records(table)
    else:
        wanted = set(read_split_list(config.split_list))
        records = [r for r in table_to_records(table) if FrameId(r.scene, r.camera, r.frame) in wanted]
    if not records:
        what = f"frames of {config.split_list}" if config.split_list else f"split {config.split!r}"
        raise ValueError(f"{manifest}: no usable (status ok) {what}")
    return records


def read_split_list(path: Path) -> list[FrameId]:
    """Frames of a MoDOT-format list file, with errors naming the file and the line."""
    frames = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        match = _LIST_LINE.match(line.strip())
        if match is None:
            raise FormatError(path, f"hypersim/ai_VVV_NNN/cam_XX/tonemap/IIII on line {number}", repr(line))
        frames.append(FrameId(match.group(1), match.group(2), int(match.group(3))))
    return frames


def scene_balanced_subset(records: Sequence[FrameRecord], count: int | None) -> list[int]:
    """Positions of `count` records spread over the scenes, in the records' order (`balanced_subset`)."""
    return balanced_subset([record.scene for record in records], count)


def balanced_subset(groups: Sequence[str], count: int | None) -> list[int]:
    """Positions of `count` frames spread over their groups (scenes), in the frames' order; deterministic (no RNG).

    groups: the group of each frame. Groups take turns (in name order) to add one frame to their quota until `count`
    frames are chosen, a group that runs out dropping from the turns; each group then gives frames at evenly spaced
    positions of its own list. None, or a count of at least len(groups), keeps every frame.
    """
    if count is None or count >= len(groups):
        return list(range(len(groups)))
    if count < 1:
        raise ValueError(f"a validation subset needs at least one frame, got {count}")
    by_scene: dict[str, list[int]] = {}
    for position, group in enumerate(groups):
        by_scene.setdefault(group, []).append(position)
    quota = dict.fromkeys(sorted(by_scene), 0)
    chosen = 0
    while chosen < count:
        for scene in quota:
            if chosen < count and quota[scene] < len(by_scene[scene]):
                quota[scene] += 1
                chosen += 1
    picked = []
    for scene, k in quota.items():
        frames = by_scene[scene]
        picked += [frames[int((i + 0.5) * len(frames) / k)] for i in range(k)]
    return sorted(picked)


class SampleLoadError(OBToolkitError, RuntimeError):
    """A sample could not be loaded (the message names the frame and the file). Re-raised in the main process from
    a DataLoader worker, whose re-raise prefixes the worker's traceback, it keeps the worker's message only."""

    def __init__(self, message: str):
        if message.startswith("Caught ") and "Original Traceback" in message:
            last = message.rstrip().splitlines()[-1]
            message = last.partition(f"{type(self).__name__}: ")[2] or last
        super().__init__(message)


class FrameDataset(Dataset):
    """What every training dataset shares: frames indexed by position (epoch 0) or by `SampleKey(epoch,
    position)`, broken frames skipped or raised (`on_error`), augmentation, and the arrays -> `Sample` step.

    Subclasses implement `__len__`, `frame_name(position)` and `frame_arrays(position)`; the last returns the
    frame's arrays before augmentation, each (H, W) unless said: "image" float32 (H, W, 3) RGB 0..255, "depth"
    float32 in network units with NaN where invalid, "boundary" float32 0/1, and optionally "valid" bool (the
    dataset's own depth mask), "boundary_valid" bool, "depth_edges" bool, "theta" float32 radians (NaN: undefined).
    """

    def __init__(self, *, augment: AugmentConfig | None, on_error: Literal["raise", "skip"], seed: int):
        self.augment, self.on_error, self.seed = augment, on_error, seed
        self.failures: list[str] = []

    def frame_name(self, position: int) -> str:
        raise NotImplementedError

    def frame_arrays(self, position: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __getitem__(self, key: int | SampleKey) -> Sample:
        epoch, index = (key.epoch, key.position) if isinstance(key, SampleKey) else (0, int(key))
        attempts = len(self) if self.on_error == "skip" else 1
        for offset in range(attempts):
            position = (index + offset) % len(self)
            try:
                return self._load(position, epoch)._replace(skipped=torch.tensor(offset, dtype=torch.int64))
            except (OBToolkitError, OSError, ValueError) as error:
                message = f"{self.frame_name(position)}: {error}"
                if self.on_error == "raise":
                    raise SampleLoadError(f"sample failed to load: {message}") from error
                self.failures.append(message)
        raise SampleLoadError(f"no sample of the dataset could be loaded; last failures: {self.failures[-3:]}")

    def _load(self, position: int, epoch: int) -> Sample:
        arrays = self.frame_arrays(position)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, epoch, position])
            arrays = augment(arrays, rng, self.augment)
        return self._to_sample(arrays, position)

    def _to_sample(self, arrays: dict[str, np.ndarray], position: int) -> Sample:
        depth = arrays["depth"]
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(depth) & (depth > 0) & arrays.get("valid", True)
        theta = arrays.get("theta")
        theta = np.full(depth.shape, np.nan, np.float32) if theta is None else theta

        def channel(a, dtype=torch.float32):
            return torch.from_numpy(np.ascontiguousarray(a)[None]).to(dtype)

        return Sample(
            image=torch.from_numpy(normalize_image(arrays["image"])),
            depth=channel(np.where(valid, depth, 0.0)),
            valid=channel(valid, torch.bool),
            boundary=channel(arrays["boundary"]),
            boundary_valid=channel(arrays.get("boundary_valid", np.ones(depth.shape, bool)), torch.bool),
            depth_edges=channel(arrays.get("depth_edges", np.zeros(depth.shape, bool)), torch.bool),
            theta=channel(theta),
            index=torch.tensor(position, dtype=torch.int64),
            skipped=torch.tensor(0, dtype=torch.int64),
            name=self.frame_name(position),
        )


class ObHypersimDataset(FrameDataset):
    """Samples of the selected OB-Hypersim manifest rows (see `FrameDataset`)."""

    def __init__(self, config: DataConfig, records: Sequence[FrameRecord] | None = None, seed: int = 0):
        super().__init__(augment=config.augment, on_error=config.on_error, seed=seed)
        self.config = config
        self.root = Path(config.root)
        self.records = list(records) if records is not None else select_records(config)
        self._rays: dict[str, np.ndarray] = {}
        if config.depth == "planar" and config.camera_csv is None:
            raise ValueError("planar depth needs the camera-parameter CSV (data.camera_csv)")

    def __len__(self) -> int:
        return len(self.records)

    def frame_name(self, position: int) -> str:
        return frame_name(self.records[position])

    def frame_arrays(self, position: int) -> dict[str, np.ndarray]:
        return self.read_arrays(self.records[position])

    def read_arrays(self, record: FrameRecord) -> dict[str, np.ndarray]:
        """The frame's arrays before augmentation: image float32 (H, W, 3) 0..255, depth float32 (H, W) in network
        units with NaN where invalid, boundary float32 (H, W) 0/1, and theta (H, W) radians when requested."""
        frame = frame_name(record)
        root = self.root
        image = read_rgb_image(root / record.rgb_path, what=f"RGB of {frame}").astype(np.float32)
        distance = read_hdf5_dataset(root / record.depth_path, what=f"depth of {frame}", kind="f").astype(np.float32)
        if distance.shape != image.shape[:2]:
            raise FormatError(root / record.depth_path, f"size {image.shape[:2]} like the RGB", str(distance.shape))
        with np.errstate(invalid="ignore"):
            if not np.any(np.isfinite(distance) & (distance > 0)):
                raise FormatError(root / record.depth_path, f"some valid depth in {frame}", "no finite depth > 0")
        if self.config.depth == "planar":
            distance = distance * self._axis_cosines(record.scene, distance.shape)
        depth = distance / self.config.depth_scale
        boundary = self._boundary(record, frame)
        arrays = {"image": image, "depth": depth, "boundary": boundary}
        if record.valid_path is not None:  # the generator's valid mask (also excludes pixels without a render entity)
            arrays["valid"] = read_valid_mask(root / record.valid_path, what=f"valid mask of {frame}")
        if self.config.orientation:
            if record.ori16_path is None:
                raise FormatError(root / f"hypersim/{frame}", "a 16-bit orientation file (ori16)", "none recorded")
            code = read_png(root / record.ori16_path, what=f"orientation of {frame}", dtype=np.uint16)
            arrays["theta"] = decode_ori16(code).astype(np.float32)
        return arrays

    def _boundary(self, record: FrameRecord, frame: str) -> np.ndarray:
        if record.ob_path is None:
            raise FormatError(self.root / f"hypersim/{frame}", "an ob file", "none recorded")
        target = read_png(self.root / record.ob_path, what=f"ob of {frame}", dtype=np.uint8) > 0
        if self.config.target == "boundary_or_contour" and record.instance_contour_path is not None:
            target |= read_png(self.root / record.instance_contour_path, what=f"contour of {frame}",
                               dtype=np.uint8) > 0
        return target.astype(np.float32)

    def _axis_cosines(self, scene: str, shape: tuple[int, int]) -> np.ndarray:
        """-r_z of the exact unit rays: planar depth = distance * (-r_z)."""
        if scene not in self._rays:
            camera = read_camera_parameters(self.config.camera_csv).camera(scene)
            self._rays[scene] = (-camera_rays(camera.M_cam_from_uv, *shape)[..., 2]).astype(np.float32)
        return self._rays[scene]
