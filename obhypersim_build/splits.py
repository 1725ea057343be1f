"""Exporting dataset splits: MoDOT's list format plus Parquet/CSV, from presets, with optional manifest filters.

Presets:
- "hypersim-v1": Hypersim's official scene-level split (metadata_images_split_scene_v1.csv), public frames only.
- "modot": the frames of MoDOT's data_splits/hypersim_filtered_{train,test}.txt, read from a folder or a URL.
A list line is `hypersim/ai_VVV_NNN/cam_XX/tonemap/IIII`, MoDOT's format (no extension).
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from obtoolkit.errors import FormatError
from obtoolkit.fileio import atomic_path, atomic_write_text
from obtoolkit.hypersim import FrameId, read_split_csv
from obtoolkit.manifest import STATUS_OK, read_manifest

MODOT_LIST_URL = "https://raw.githubusercontent.com/xul-ops/MoDOT/main/data_splits/hypersim_filtered_{split}.txt"
MODOT_SPLITS = ("train", "test")
_LINE = re.compile(r"^hypersim/(ai_\d{3}_\d{3})/(cam_\d{2})/tonemap/(\d{4})$")


@dataclass(frozen=True)
class SplitFilters:
    """Frame filters that need a manifest's statistics; None disables a filter."""

    max_nan_fraction: float | None = None  # of pixels without geometry: invalid_fraction (else depth_nan_fraction)
    min_ob_fraction: float | None = None
    require_ok: bool = True

    @property
    def active(self) -> bool:
        return self.max_nan_fraction is not None or self.min_ob_fraction is not None


def modot_line(frame: FrameId) -> str:
    return f"hypersim/{frame.scene}/{frame.camera}/tonemap/{frame.frame:04d}"


def parse_modot_line(line: str, source: str, number: int) -> FrameId:
    match = _LINE.match(line.strip())
    if not match:
        raise FormatError(source, f"lines like hypersim/ai_001_001/cam_00/tonemap/0000 (line {number})", repr(line))
    return FrameId(match.group(1), match.group(2), int(match.group(3)))


def frames_hypersim_v1(split_csv: Path) -> pd.DataFrame:
    """Public frames of Hypersim's official split: columns scene, camera, frame, split."""
    table = read_split_csv(split_csv)
    table = table[table["included_in_public_release"] & table["split_partition_name"].notna()]
    return pd.DataFrame({"scene": table["scene_name"].to_numpy(), "camera": table["camera_name"].to_numpy(),
                         "frame": table["frame_id"].to_numpy(), "split": table["split_partition_name"].to_numpy()})


def frames_modot(lists: str) -> pd.DataFrame:
    """Frames of MoDOT's filtered lists, from a folder holding hypersim_filtered_{train,test}.txt or a base URL."""
    rows = []
    for split in MODOT_SPLITS:
        source, text = _read_list(lists, split)
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                frame = parse_modot_line(line, source, number)
                rows.append((frame.scene, frame.camera, frame.frame, split))
    return pd.DataFrame(rows, columns=["scene", "camera", "frame", "split"])


def _read_list(lists: str, split: str) -> tuple[str, str]:
    name = f"hypersim_filtered_{split}.txt"
    if lists.startswith(("http://", "https://")):
        url = lists.rstrip("/") + "/" + name if "{split}" not in lists else lists.format(split=split)
        with urllib.request.urlopen(url, timeout=60) as response:
            return url, response.read().decode()
    path = Path(lists) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: MoDOT split list not found")
    return str(path), path.read_text()


def apply_filters(frames: pd.DataFrame, manifest: Path | None, filters: SplitFilters) -> pd.DataFrame:
    """Keep frames whose manifest row passes the filters: status ok (`require_ok`) and the thresholds.

    Without a manifest nothing is filtered, and threshold filters are an error (they need its statistics).
    """
    if manifest is None:
        if filters.active:
            raise ValueError("statistics filters (max NaN fraction, min OB fraction) need --manifest")
        return frames
    table = read_manifest(manifest, columns=["scene", "camera", "frame", "status", "invalid_fraction",
                                             "depth_nan_fraction", "ob_fraction"])
    # without a valid-mask product (an indexed release), what has no geometry is what has no depth
    invalid = pc.coalesce(table["invalid_fraction"], table["depth_nan_fraction"])
    keep = pc.equal(table["status"].cast(pa.string()), STATUS_OK) if filters.require_ok else None
    for values, bound, compare in ((invalid, filters.max_nan_fraction, pc.less_equal),
                                   (table["ob_fraction"], filters.min_ob_fraction, pc.greater_equal)):
        if bound is not None:
            ok = compare(values, bound)
            keep = ok if keep is None else pc.and_(keep, ok)
    passed = (table if keep is None else table.filter(keep)).select(["scene", "camera", "frame"]).to_pandas()
    passed = passed.astype({"scene": str, "camera": str, "frame": "int64"})
    return frames.merge(passed, on=["scene", "camera", "frame"], how="inner")


def write_splits(frames: pd.DataFrame, out_dir: Path, metadata: dict) -> dict[str, int]:
    """Write `<split>.txt` (MoDOT format, sorted), `splits.parquet` and `splits.csv`; returns frames per split."""
    frames = frames.sort_values(["scene", "camera", "frame"], kind="stable").reset_index(drop=True)
    counts = {}
    for split, group in frames.groupby("split", sort=True):
        lines = [modot_line(FrameId(s, c, int(f))) for s, c, f in zip(group["scene"], group["camera"],
                                                                      group["frame"], strict=True)]
        atomic_write_text(out_dir / f"{split}.txt", "\n".join(lines) + "\n")
        counts[str(split)] = len(lines)
    table = pa.Table.from_pandas(frames.astype({"frame": "int32"}), preserve_index=False)
    table = table.replace_schema_metadata({b"ob_hypersim.splits": json.dumps({**metadata, "counts": counts},
                                                                             sort_keys=True).encode()})
    with atomic_path(out_dir / "splits.parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")
    atomic_write_text(out_dir / "splits.csv", frames.to_csv(index=False))
    atomic_write_text(out_dir / "splits.json", json.dumps({**metadata, "counts": counts}, indent=1, sort_keys=True))
    return counts


def export_splits(
    out_dir: str | Path,
    preset: str,
    *,
    split_csv: Path | None = None,
    modot_lists: str | None = None,
    manifest: Path | None = None,
    filters: SplitFilters | None = None,
    splits: Sequence[str] | None = None,
) -> dict[str, int]:
    """Export a preset's frames (optionally filtered by a manifest) into `out_dir`; returns frames per split."""
    out_dir = Path(out_dir)
    if preset == "hypersim-v1":
        if split_csv is None:
            raise ValueError("preset hypersim-v1 needs Hypersim's split CSV (--split-csv)")
        frames, source = frames_hypersim_v1(split_csv), str(split_csv)
    elif preset == "modot":
        source = modot_lists or MODOT_LIST_URL
        frames = frames_modot(source)
    else:
        raise ValueError(f"unknown preset {preset!r}; use hypersim-v1 or modot")
    if splits:
        frames = frames[frames["split"].isin(list(splits))]
    filters = filters or SplitFilters()
    kept = apply_filters(frames, manifest, filters)
    metadata = {"preset": preset, "source": source, "filters": asdict(filters),
                "manifest": None if manifest is None else str(manifest), "dropped": len(frames) - len(kept)}
    frames = kept
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_splits(frames, out_dir, metadata)
