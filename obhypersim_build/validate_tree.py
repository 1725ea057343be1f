"""`obh validate LABEL_ROOT`: run the label checks over a generated dataset and summarise them.

Each frame's labels are decoded and compared with its depth (the copy in the layout) and with the content hashes its
stats JSON recorded at generation, which catches files edited afterwards. With the Hypersim root, the checks that
need normals, instance ids and the camera matrix run too.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from tqdm import tqdm

from obhypersim_build.config import BuildConfig, load_build_config
from obhypersim_build.inputs import check_rgb_input
from obtoolkit.errors import OBToolkitError
from obtoolkit.fileio import atomic_write_text
from obtoolkit.hypersim import (
    FrameGeometry,
    FrameId,
    HypersimLayout,
    frame_geometry,
    read_camera_parameters,
    read_frame_geometry,
    read_hdf5_dataset,
)
from obtoolkit.labels_io import DATASET_DIR, product_relpath, read_label_files, read_stats_json
from obtoolkit.products import hash_columns
from obtoolkit.validation import CheckResult, FrameReport, validate_labels

CONFIG_NAME = "build_config.yaml"
logger = logging.getLogger(__name__)


def discover_label_frames(label_root: Path) -> list[FrameId]:
    """Frames with an ob/IIII.png under label_root/hypersim/<scene>/<camera>/."""
    frames = []
    for path in sorted((label_root / DATASET_DIR).glob("ai_*/cam_*/ob/*.png")):
        frames.append(FrameId(path.parents[2].name, path.parents[1].name, int(path.stem)))
    return frames


def _geometry(label_root: Path, frame: FrameId, hypersim_root: Path | None, camera_csv: Path | None) -> FrameGeometry:
    if hypersim_root is None:
        depth_path = label_root / product_relpath(frame, "depth_hdf5")
        distance = read_hdf5_dataset(depth_path, what=f"depth copy of {frame}", kind="f")
        return frame_geometry({"depth_meters": distance}, frame=frame)
    layout = HypersimLayout(hypersim_root)
    camera = read_camera_parameters(camera_csv or layout.camera_parameters_csv).camera(frame.scene)
    return read_frame_geometry(layout, frame, camera=camera, allow_empty=True)


def validate_frame_files(label_root: Path, frame: FrameId, config: BuildConfig, hypersim_root: Path | None = None,
                         camera_csv: Path | None = None) -> FrameReport:
    """All checks on one frame's files; unreadable files become a failed schema check naming the file."""
    try:
        labels = read_label_files(label_root, frame)
        check_rgb_input(label_root / product_relpath(frame, "tonemap"), labels.ob.shape, config.max_image_pixels,
                        what=f"tonemap copy of {frame}")
        geometry = _geometry(label_root, frame, hypersim_root, camera_csv)
    except (OBToolkitError, OSError, KeyError) as error:
        return FrameReport(str(frame), (CheckResult("schema", False, "error", None, "readable files", str(error)),))
    record = read_stats_json(label_root, frame)
    hashes = None
    if record is not None:
        hashes = {c.removesuffix("_hash"): record[c] for c in hash_columns() if record.get(c) is not None}
    return validate_labels(labels, geometry, config.labels, frame=str(frame), expected_hashes=hashes,
                           thresholds=config.validation, mesh_exact=config.mesh_exact)


@dataclass(frozen=True)
class ValidationSummary:
    reports: list[FrameReport]
    config_source: str

    @property
    def n_failed(self) -> int:
        return sum(r.failed for r in self.reports)

    def table(self) -> list[dict]:
        """One row per check: frames passed / failed / skipped, mean value."""
        rows: dict[str, dict] = {}
        values: dict[str, list[float]] = defaultdict(list)
        for report in self.reports:
            for check in report.checks:
                row = rows.setdefault(check.name, {"check": check.name, "severity": check.severity, "passed": 0,
                                                   "failed": 0, "skipped": 0})
                row["skipped" if check.skipped else "passed" if check.passed else "failed"] += 1
                if check.value is not None and not check.skipped:
                    values[check.name].append(check.value)
        for name, row in rows.items():
            row["mean_value"] = float(np.mean(values[name])) if values[name] else None
        return list(rows.values())

    def as_dict(self) -> dict:
        return {"frames": len(self.reports), "failed_frames": self.n_failed, "config": self.config_source,
                "checks": self.table(), "reports": [r.as_dict() for r in self.reports]}


def validate_tree(label_root: str | Path, *, hypersim_root: str | Path | None = None,
                  camera_csv: str | Path | None = None, jobs: int = 1, progress: bool = True) -> ValidationSummary:
    """Validate every frame under a label root with the parameters its build config recorded."""
    label_root = Path(label_root)
    config_path = label_root / CONFIG_NAME
    config = load_build_config(config_path) if config_path.is_file() else BuildConfig()
    frames = discover_label_frames(label_root)
    if not frames:
        raise FileNotFoundError(f"{label_root}: no labelled frame found (expected {DATASET_DIR}/ai_*/cam_*/ob/*.png)")
    hypersim_root = None if hypersim_root is None else Path(hypersim_root)
    camera_csv = None if camera_csv is None else Path(camera_csv)
    logger.info("%s: validating %d frames against %s, %s the checks that need the Hypersim inputs", label_root,
                len(frames), config_path if config_path.is_file() else "the default build config",
                "with" if hypersim_root is not None else "without")
    calls = (joblib.delayed(validate_frame_files)(label_root, f, config, hypersim_root, camera_csv) for f in frames)
    parallel = joblib.Parallel(n_jobs=jobs, return_as="generator")
    reports = list(tqdm(parallel(calls), total=len(frames), unit="frame", disable=not progress, desc="validate"))
    source = str(config_path) if config_path.is_file() else "defaults (no build_config.yaml)"
    return ValidationSummary(reports, source)


def write_report(summary: ValidationSummary, path: str | Path) -> None:
    atomic_write_text(path, json.dumps(summary.as_dict(), indent=1, default=float) + "\n")
