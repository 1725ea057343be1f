"""`obh generate`: plan, run one task per scene-camera in parallel (joblib locally, Dask on a cluster), merge.

Reruns are incremental and safe after any crash: the run holds the output root's lock (`obtoolkit.treelock`), this
tool's temporary files left by ended processes are removed, finished frames (stats JSON with the same parameter hash
and the same inputs) are skipped, every task rewrites its manifest part, and the merge rebuilds manifest.parquet from
all parts under the output root. Tasks stop when the run that started them is gone (`obhypersim_build.watchdog`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
from tqdm import tqdm

from obhypersim_build.config import BuildConfig
from obhypersim_build.plan import CameraTask, count_frames, plan_tasks
from obhypersim_build.watchdog import RunWatch, run_watched, watch_parent
from obhypersim_build.worker import PARTS_DIR, run_camera_task
from obtoolkit.config import dump_yaml
from obtoolkit.fileio import atomic_write_text, remove_stale_temporaries
from obtoolkit.hypersim import CameraParametersTable, read_camera_parameters
from obtoolkit.manifest import STATUS_OK, FrameRecord, merge_parts
from obtoolkit.provenance import git_sha, package_version
from obtoolkit.treelock import LockHolder, lock_tree

MANIFEST_NAME = "manifest.parquet"
CONFIG_NAME = "build_config.yaml"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateSummary:
    n_frames: int
    n_ok: int
    n_failed: int
    seconds: float
    manifest_path: Path
    failures: tuple[FrameRecord, ...] = ()

    @property
    def frames_per_second(self) -> float:
        return self.n_frames / self.seconds if self.seconds > 0 else float("inf")


def generate(
    hypersim_root: str | Path,
    out_root: str | Path,
    config: BuildConfig | None = None,
    *,
    scenes: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
    jobs: int = 1,
    dask_scheduler: str | None = None,
    progress: bool = True,
) -> GenerateSummary:
    """Label every planned frame under `hypersim_root` into `out_root` and write `out_root/manifest.parquet`.

    Raises:
        TreeLockedError: another run writes into `out_root`.
        MissingFileError / FormatError: the camera CSV is missing or unreadable (a bad row fails only its scene).
        OSError: the disk is full (finished frames are kept; rerun when there is room).
    """
    hypersim_root, out_root = Path(hypersim_root), Path(out_root)
    if jobs < 1:
        raise ValueError(f"jobs: expected at least 1 worker process, got {jobs}")
    config = (config or BuildConfig()).resolved(hypersim_root)
    tasks = plan_tasks(hypersim_root, scenes=scenes, splits=splits, split_csv=config.split_csv,
                       public_only=config.public_only)
    cameras = read_camera_parameters(config.camera_csv, scenes={t.scene for t in tasks},
                                     max_pixels=config.max_image_pixels)
    logger.info("%s: %d frames planned in %d camera trajectories of %d scenes, %s", hypersim_root,
                count_frames(tasks), len(tasks), len({t.scene for t in tasks}),
                f"on the Dask cluster at {dask_scheduler}" if dask_scheduler else f"{jobs} worker process(es)")
    with lock_tree(out_root) as holder:
        if removed := remove_stale_temporaries(out_root):
            logger.info("%s: removed %d temporary files left by ended runs of this tool", out_root, removed)
        return _generate_locked(tasks, cameras, hypersim_root, out_root, config, jobs, dask_scheduler, progress,
                                holder)


def _generate_locked(tasks: list[CameraTask], cameras: CameraParametersTable, hypersim_root: Path, out_root: Path,
                     config: BuildConfig, jobs: int, dask_scheduler: str | None, progress: bool,
                     holder: LockHolder) -> GenerateSummary:
    provenance = {"package_version": package_version(), "git_sha": git_sha(), "hypersim_root": str(hypersim_root)}
    atomic_write_text(out_root / CONFIG_NAME, dump_yaml(config) + "# " + repr(provenance) + "\n")
    start = time.perf_counter()
    records: list[FrameRecord] = []
    with tqdm(total=count_frames(tasks), unit="frame", disable=not progress, desc="generate") as bar:
        for task_records in _run_tasks(tasks, hypersim_root, out_root, config, cameras, jobs, dask_scheduler,
                                       holder):
            records.extend(task_records)
            bar.update(len(task_records))
    parts = sorted((out_root / PARTS_DIR).glob("part-*.parquet"))
    manifest_path = out_root / MANIFEST_NAME
    merge_parts(parts, manifest_path, {**config.as_dict(), "provenance": provenance})
    failures = tuple(sorted((r for r in records if r.status != STATUS_OK), key=lambda r: (r.scene, r.camera, r.frame)))
    return GenerateSummary(len(records), len(records) - len(failures), len(failures), time.perf_counter() - start,
                           manifest_path, failures)


def _run_tasks(tasks: list[CameraTask], hypersim_root: Path, out_root: Path, config: BuildConfig,
               cameras: CameraParametersTable, jobs: int, dask_scheduler: str | None,
               holder: LockHolder) -> Iterator[list[FrameRecord]]:
    if jobs == 1 and dask_scheduler is None:
        for task in tasks:
            yield run_camera_task(task, hypersim_root, out_root, config, cameras)
        return
    watch = RunWatch(out_root, holder, "task" if dask_scheduler else "process")
    with _backend(dask_scheduler):
        parallel = joblib.Parallel(n_jobs=-1 if dask_scheduler else jobs, batch_size=1,
                                   return_as="generator_unordered")
        yield from parallel(joblib.delayed(run_watched)(watch, run_camera_task, task, hypersim_root, out_root, config,
                                                        cameras) for task in tasks)


@contextlib.contextmanager
def _backend(dask_scheduler: str | None):
    """joblib's loky backend with one thread per worker process (the kernels are single-threaded; BLAS and OpenMP
    pools would only compete) whose workers end when this process does, or its Dask backend on an existing
    cluster (the `cluster` extra)."""
    if dask_scheduler is None:
        with joblib.parallel_config(backend="loky", inner_max_num_threads=1, initializer=watch_parent,
                                    initargs=(os.getpid(),)):
            yield
        return
    try:
        from dask.distributed import Client
    except ImportError as error:
        raise ImportError("--dask-scheduler needs the cluster extra: pip install -e '.[cluster]'") from error
    with Client(dask_scheduler), joblib.parallel_config(backend="dask"):
        yield
