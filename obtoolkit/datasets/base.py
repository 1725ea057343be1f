"""The dataset protocol: what every dataset module provides, and the records it hands out.

A format (`DatasetFormat`) knows one dataset's real on-disk layout. Its public methods:
- `frames(root, split, split_file=None)` -> [FrameFiles]: the frames of a split (or of the whole tree, split "all"),
  their files checked to exist;
- `read_frame(root, files)` -> FrameArrays: the decoded arrays (image, depth in metres with its valid mask, OB ground
  truth and where it is defined, orientation, the dataset's own depth edges);
- `preset`: the evaluation preset (`EvalPreset`): depth validity / clamp / crop and unit, boundary protocol, matching
  radius, NMS, fixed thresholds, DBE references, the official zero-shot max depth.
Every error is one line that names the path and what was expected.
"""

from __future__ import annotations

import abc
import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from obtoolkit.errors import FormatError, MissingFileError, OBToolkitError
from obtoolkit.metrics.boundary import BoundaryEvalOptions
from obtoolkit.metrics.depth import DepthEvalOptions

SPLIT_ALL = "all"  # every frame found by walking the layout; needs no split file
DbeReference = Literal["depth_edges", "boundary"]


class UnknownDatasetError(OBToolkitError, ValueError):
    """A dataset name that no format is registered under."""


class UnknownSplitError(OBToolkitError, ValueError):
    """A split name the format has no split file for."""


class LayoutError(OBToolkitError, ValueError):
    """A dataset root whose folders or files do not match the format's layout."""

    def __init__(self, path: str | Path, expected: str, found: str):
        self.path = Path(path)
        super().__init__(f"{self.path}: expected {expected}, found {found}")


@dataclasses.dataclass(frozen=True)
class FrameFiles:
    """The files of one frame, relative to the dataset root (None: the dataset has no such file).

    frame_id: unique within the dataset (NYUD-MT "0001", OB-FUTURE "00052", iBims "corridor_01", DIODE
        "val/indoors/scene_00019/scan_00183/00019_00183_indoors_000_010").
    image: the RGB image. depth: the depth file (.npy, .png or .mat). depth_mask: a separate validity file.
    boundary: the OB ground truth. orientation: an orientation file. instance_contour: instance contours.
    """

    frame_id: str
    image: str
    depth: str | None = None
    depth_mask: str | None = None
    boundary: str | None = None
    orientation: str | None = None
    instance_contour: str | None = None

    def paths(self) -> dict[str, str]:
        """{role: relative path} of the files this frame has."""
        return {f.name: v for f in dataclasses.fields(self) if f.name != "frame_id" and (v := getattr(self, f.name))}


@dataclasses.dataclass(frozen=True, eq=False)
class FrameArrays:
    """Decoded arrays of one frame; every array is (H, W) (the image (H, W, 3)) and they share H and W.

    image_rgb: uint8 (H, W, 3).
    depth_m: float32 metres, NaN where `depth_valid` is False; None without depth ground truth.
    depth_valid: bool, where the dataset says the depth is a measurement (its own masks; the evaluation preset may
        narrow it further by range).
    boundary: bool OB ground truth (the dataset's evaluation target); None without one.
    boundary_valid: bool, where the OB label is defined (None: everywhere).
    orientation_rad: float32 occlusion orientation in radians, NaN off the boundary; None without one.
    instance_contour: bool instance contours; None without them.
    depth_edges: bool, the dataset's own annotated depth edges (iBims-1 `edges`); None without them.
    """

    frame_id: str
    image_rgb: np.ndarray
    depth_m: np.ndarray | None = None
    depth_valid: np.ndarray | None = None
    boundary: np.ndarray | None = None
    boundary_valid: np.ndarray | None = None
    orientation_rad: np.ndarray | None = None
    instance_contour: np.ndarray | None = None
    depth_edges: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class EvalPreset:
    """How a dataset is evaluated (the official protocol where one exists; the docs page says where we differ).

    depth: validity range, clamp and crop of the depth metrics, in units of `depth_unit_m` metres (None: no depth GT).
    depth_unit_m: metres per unit of the `depth` numbers (1.0; 3.05 for OB-Hypersim's MoDOT units). Predictions and
        GT are divided by it before the metrics, so RMSE and SqRel come out in that unit.
    boundary_protocol, max_dist, apply_nms: the boundary benchmark (`boundary_options`); thinning follows the
        protocol ("bsds" thins, "occlusion" does not). extra_max_dists: further radii worth reporting beside it.
    fixed_thresholds: thresholds of the pixel-wise fixed-threshold P/R/F (`metrics.fixed_threshold`).
    official_fixed_threshold: the one the official script prints (0.7 in eval_final, 0.5 in eval_final_transfer).
    dbe_references: which edges the depth-boundary errors are measured against: the dataset's own depth edges
        and/or the OB ground truth.
    zero_shot_max_depth: the max_depth the official zero-shot config rebuilds the network with (iBims 52, DIODE
        350, EntitySeg 10), for the "official" depth scale policy; None where the dataset is not zero-shot.
    """

    depth: DepthEvalOptions | None
    depth_unit_m: float = 1.0
    boundary_protocol: Literal["occlusion", "bsds"] = "occlusion"
    max_dist: float = 0.0075
    extra_max_dists: tuple[float, ...] = ()
    apply_nms: bool | None = None
    fixed_thresholds: tuple[float, ...] = (0.5, 0.7)
    official_fixed_threshold: float | None = None
    dbe_references: tuple[DbeReference, ...] = ()
    zero_shot_max_depth: float | None = None

    def __post_init__(self) -> None:
        if not self.depth_unit_m > 0:
            raise ValueError(f"depth_unit_m: expected > 0, got {self.depth_unit_m}")
        if self.depth is None and self.dbe_references:
            raise ValueError("dbe_references: a preset without depth cannot have depth-boundary errors")

    def boundary_options(self, max_dist: float | None = None) -> BoundaryEvalOptions:
        """The boundary benchmark's options (at `max_dist`, default the preset's)."""
        return BoundaryEvalOptions(protocol=self.boundary_protocol,
                                   max_dist=self.max_dist if max_dist is None else max_dist,
                                   apply_nms=self.apply_nms)

    @property
    def thin(self) -> bool:
        """True when each thresholded map is thinned (the BSDS protocol)."""
        return self.boundary_options().thin

    @property
    def nms(self) -> bool:
        """True when edge NMS runs once on the soft map."""
        return self.boundary_options().nms


class DatasetFormat(abc.ABC):
    """One dataset's layout, files and evaluation preset. Subclasses are frozen dataclasses (their fields are
    options) and set the class attributes below."""

    name: ClassVar[str]  # registry name, e.g. "nyudmt"
    title: ClassVar[str]  # e.g. "NYUD-MT"
    layout: ClassVar[str]  # one line, e.g. "NYUDv2/{images,edge,depth}/NNNN.{png,png,npy}"
    split_files: ClassVar[Mapping[str, str]]  # split -> default list file, relative to the root
    preset: ClassVar[EvalPreset]
    modalities: ClassVar[frozenset[str]]  # FrameArrays fields this dataset fills

    # -- to implement --------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def frame_id_from_line(self, line: str) -> str | None:
        """The frame id of one split-file line (None if the line is not an id); raise ValueError if malformed."""

    @abc.abstractmethod
    def frame_files(self, frame_id: str) -> FrameFiles:
        """The frame's files (relative paths), whether or not they exist."""

    @abc.abstractmethod
    def discover(self, root: Path) -> list[str]:
        """Every frame id found by walking the layout under `root`, sorted."""

    @abc.abstractmethod
    def read_frame(self, root: str | Path, files: FrameFiles) -> FrameArrays:
        """Read and decode one frame's files; errors name the file and what was expected."""

    def required_dirs(self) -> tuple[str, ...]:
        """Folders (relative to the root) that must exist for the layout to match."""
        return ()

    def drop_from_split(self, split: str, frame_ids: list[str]) -> list[str]:
        """Ids the official code removes from a split (OB-FUTURE's four test scenes); default: none."""
        return frame_ids

    # -- provided --------------------------------------------------------------------------------------------------
    def check_layout(self, root: str | Path) -> Path:
        """The root as a Path, after checking it is a folder holding the format's required folders."""
        root = Path(root)
        if not root.is_dir():
            raise LayoutError(root, f"the root folder of a {self.title} dataset ({self.layout})", "no such folder")
        for relative in self.required_dirs():
            if not (root / relative).is_dir():
                raise LayoutError(root / relative, f"a folder of the {self.title} layout ({self.layout})",
                                  "no such folder")
        return root

    def split_path(self, root: str | Path, split: str, split_file: str | Path | None = None) -> Path:
        """The list file of `split`: `split_file` if given, else the format's default under the root."""
        if split_file is not None:
            return Path(split_file)
        if split not in self.split_files:
            known = sorted([*self.split_files, SPLIT_ALL])
            raise UnknownSplitError(f"{self.name}: unknown split {split!r}; known: {', '.join(known)} "
                                    "(or pass a split file)")
        return Path(root) / self.split_files[split]

    def read_split(self, root: str | Path, split: str, split_file: str | Path | None = None) -> list[str]:
        """Frame ids of a split, in file order, after the official removals; errors name the file and line."""
        path = self.split_path(root, split, split_file)
        if not path.is_file():
            raise MissingFileError(path, f"split file of {self.title} split {split!r}, one frame per line; "
                                         f"pass another with split_file, or use split {SPLIT_ALL!r}")
        ids = []
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            try:
                frame_id = self.frame_id_from_line(line.strip())
            except ValueError as error:
                raise FormatError(path, f"a {self.title} split line on line {number} ({error})", repr(line)) from None
            if frame_id is not None:
                ids.append(frame_id)
        if not ids:
            raise FormatError(path, f"at least one {self.title} frame", "an empty list")
        return self.drop_from_split(split, ids)

    def frames(self, root: str | Path, split: str = SPLIT_ALL, split_file: str | Path | None = None,
               *, check_files: bool = True) -> list[FrameFiles]:
        """The frames of a split (SPLIT_ALL: every frame the layout holds), each file checked to exist."""
        root = self.check_layout(root)
        if split == SPLIT_ALL and split_file is None:
            ids = self.discover(root)
            if not ids:
                raise LayoutError(root, f"{self.title} frames ({self.layout})", "none")
        else:
            ids = self.read_split(root, split, split_file)
        records = [self.frame_files(frame_id) for frame_id in ids]
        if check_files:
            for record in records:
                for role, relative in record.paths().items():
                    if not (root / relative).is_file():
                        raise MissingFileError(root / relative, f"{role} of {self.title} frame {record.frame_id}")
        return records


_SAFE_ID = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


def check_relative_id(text: str) -> str:
    """`text` if it is a safe relative name (no absolute path, no '..', no odd characters), else ValueError."""
    if not _SAFE_ID.match(text) or any(part in (".", "..") for part in text.split("/")):
        raise ValueError(f"expected a relative name of letters, digits, '_', '-', '.' and '/', got {text!r}")
    return text
