"""Planning a build: which frames, grouped into one task per scene-camera (per-scene set-up is paid once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from obtoolkit.hypersim import FrameId, list_cameras, list_frames, list_scenes, read_split_csv


@dataclass(frozen=True)
class FrameMeta:
    """Where a frame stands in Hypersim's official split (None when no split CSV is known)."""

    split: str | None
    public: bool | None


@dataclass(frozen=True)
class CameraTask:
    """All frames of one scene-camera to process in one worker call."""

    scene: str
    camera: str
    frames: tuple[int, ...]
    meta: tuple[FrameMeta, ...]

    @property
    def name(self) -> str:
        return f"{self.scene}-{self.camera}"


def plan_tasks(
    hypersim_root: Path,
    *,
    scenes: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
    split_csv: Path | None = None,
    public_only: bool = True,
) -> list[CameraTask]:
    """Tasks for every frame found under the root, filtered by scene, split and public release.

    Frames are discovered on disk (a tree may hold only part of Hypersim); the split CSV, when given, adds each
    frame's split and public flag and drives the `splits` and `public_only` filters.
    """
    table = _split_lookup(split_csv)
    if splits and table is None:
        raise ValueError("filtering by split needs Hypersim's split CSV (metadata_images_split_scene_v1.csv)")
    available = list_scenes(hypersim_root)
    wanted = available if not scenes else list(scenes)
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise FileNotFoundError(f"{hypersim_root}: scene folder(s) not found: {', '.join(missing)}")
    tasks = []
    for scene in sorted(wanted):
        for camera in list_cameras(hypersim_root, scene):
            frames, meta = [], []
            for frame in list_frames(hypersim_root, scene, camera):
                info = _meta(table, frame)
                if public_only and info.public is False:
                    continue
                if splits and info.split not in splits:
                    continue
                frames.append(frame.frame)
                meta.append(info)
            if frames:
                tasks.append(CameraTask(scene, camera, tuple(frames), tuple(meta)))
    return tasks


def _split_lookup(split_csv: Path | None) -> dict[tuple[str, str, int], FrameMeta] | None:
    if split_csv is None:
        return None
    table = read_split_csv(split_csv)
    splits = table["split_partition_name"].astype(object).where(table["split_partition_name"].notna(), None)
    return {
        (scene, camera, int(frame)): FrameMeta(split, bool(public))
        for scene, camera, frame, public, split in zip(
            table["scene_name"], table["camera_name"], table["frame_id"], table["included_in_public_release"],
            splits, strict=True)
    }


def _meta(table, frame: FrameId) -> FrameMeta:
    if table is None:
        return FrameMeta(None, None)
    return table.get((frame.scene, frame.camera, frame.frame), FrameMeta(None, None))


def count_frames(tasks: Sequence[CameraTask]) -> int:
    return sum(len(t.frames) for t in tasks)


