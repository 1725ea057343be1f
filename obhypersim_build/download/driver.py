"""`obh download`: plan (metadata CSVs, archive indexes, local state) and fetch the selected members in parallel.

A run: lock OUT_ROOT (`obtoolkit.treelock`, the lock of every command that writes a tree); fetch the two
dataset-level CSVs (camera parameters, official split) into OUT_ROOT; choose scenes (by name and/or split); read each
scene archive's central directory with range requests; select members; skip those already on disk with the right
size and CRC-32; fetch the rest with a thread pool (resuming partial files); write `download_report.json`. Every
failure becomes a row of the report, never a dead pool: an archive that cannot be read, a member whose name this
file system refuses, a member that fails verification. A full disk is the exception: it stops the run (partial
files are kept) with an error naming the file.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from obhypersim_build.download.member import MemberTask, VerifiedCache, fetch_member, usable_partial_size
from obhypersim_build.download.selection import FrameFilter, Selection, select_members, split_frames
from obhypersim_build.download.transport import DownloadError, HttpClient, RetryPolicy, read_until_agreement
from obhypersim_build.download.zipindex import read_archive_index
from obtoolkit.errors import OBToolkitError, is_disk_full
from obtoolkit.fileio import atomic_path, atomic_write_text, remove_stale_temporaries
from obtoolkit.hypersim.camera import read_camera_parameters
from obtoolkit.hypersim.layout import CAMERA_PARAMETERS_CSV, SCENE_PATTERN, SPLIT_CSV
from obtoolkit.hypersim.metadata import read_split_csv
from obtoolkit.provenance import git_sha, package_version
from obtoolkit.treelock import lock_tree

DEFAULT_BASE_URL = "https://docs-assets.developer.apple.com/ml-research/datasets/hypersim/v1/scenes"
DEFAULT_METADATA_URL = "https://raw.githubusercontent.com/apple/ml-hypersim/main"
# Where the dataset-level tables live in the apple/ml-hypersim repository (spec §1.6-1.7).
METADATA_FILES = {
    CAMERA_PARAMETERS_CSV: "contrib/mikeroberts3000/metadata_camera_parameters.csv",
    SPLIT_CSV: "evermotion_dataset/analysis/metadata_images_split_scene_v1.csv",
}
METADATA_READERS: dict[str, Callable[[Path], object]] = {
    CAMERA_PARAMETERS_CSV: read_camera_parameters, SPLIT_CSV: read_split_csv,
}
REPORT_NAME = "download_report.json"
CACHE_SAVE_INTERVAL_S = 30.0


@dataclass(frozen=True)
class DownloadRequest:
    """What to download and from where.

    Attributes:
        out_root: the Hypersim root to fill (official layout; `obh generate` reads it directly).
        scenes: scene names; empty = every scene of `splits`.
        splits: official split partitions (train / val / test): only their public frames are taken.
        selection: modalities, cameras and `_detail/` set.
        base_url: folder of the per-scene archives `<scene>.zip` (a mirror must support range requests).
        metadata_url: root of the apple/ml-hypersim repository's files (raw), for the two CSVs.
    """

    out_root: Path
    scenes: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    selection: Selection = field(default_factory=Selection)
    base_url: str = DEFAULT_BASE_URL
    metadata_url: str = DEFAULT_METADATA_URL

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_root", Path(self.out_root))
        bad = [s for s in self.scenes if not SCENE_PATTERN.match(s)]
        if bad:
            raise ValueError(f"scene names look like ai_001_001, got {', '.join(bad)}")
        unknown = [s for s in self.splits if s not in ("train", "val", "test")]
        if unknown:
            raise ValueError(f"splits are train, val or test, got {', '.join(unknown)}")
        if not self.scenes and not self.splits:
            raise ValueError("choose scenes by name (--scenes) or by official split (--split)")

    def archive_url(self, scene: str) -> str:
        return f"{self.base_url.rstrip('/')}/{scene}.zip"

    def metadata_file_url(self, name: str) -> str:
        return f"{self.metadata_url.rstrip('/')}/{METADATA_FILES[name]}"


@dataclass(frozen=True)
class PlannedFile:
    """A selected member and its local state: "verified" (skip), "partial" (resume) or "missing"."""

    scene: str
    task: MemberTask
    state: str
    partial_bytes: int = 0

    @property
    def bytes_to_fetch(self) -> int:
        return 0 if self.state == "verified" else self.task.member.compressed_size - self.partial_bytes


@dataclass(frozen=True)
class FileResult:
    """What happened to one file (or one archive that could not be read): ok, skipped or failed."""

    name: str
    status: str
    url: str
    bytes_fetched: int = 0
    error: str | None = None


@dataclass(frozen=True)
class DownloadPlan:
    """Every selected member with its state, and the archives whose central directory could not be read."""

    files: tuple[PlannedFile, ...]
    failures: tuple[FileResult, ...]

    def totals(self) -> dict[str, int]:
        """Counts and bytes: files, to fetch, already verified (uncompressed bytes), in partial files."""
        pending = [f for f in self.files if f.state != "verified"]
        return {
            "files": len(self.files),
            "files_verified": len(self.files) - len(pending),
            "files_to_fetch": len(pending),
            "bytes_to_fetch": sum(f.bytes_to_fetch for f in pending),
            "bytes_partial": sum(f.partial_bytes for f in pending),
            "bytes_verified": sum(f.task.member.uncompressed_size for f in self.files if f.state == "verified"),
            "archives_failed": len(self.failures),
        }


@dataclass(frozen=True)
class DownloadReport:
    """The outcome of a run: one result per file (and per unreadable archive), transfer counters, duration."""

    results: tuple[FileResult, ...]
    transfer: dict
    seconds: float
    settings: dict = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]

    def as_dict(self) -> dict:
        return {"ok": self.count("ok"), "skipped": self.count("skipped"), "failed": self.count("failed"),
                "bytes_fetched": sum(r.bytes_fetched for r in self.results), "seconds": round(self.seconds, 3),
                "transfer": self.transfer, "failures": [asdict(r) for r in self.failed], "settings": self.settings}


def download(request: DownloadRequest, *, policy: RetryPolicy | None = None, jobs: int = 4, progress: bool = True,
             rehash: bool = False) -> DownloadReport:
    """Fetch the metadata CSVs and every selected member into `request.out_root`; write the JSON report there.

    Raises:
        TreeLockedError: another command writes into OUT_ROOT.
        OSError: the disk is full (partial files are kept for the next run).
    """
    if jobs < 1:
        raise ValueError(f"jobs: expected at least 1 parallel download, got {jobs}")
    start = time.perf_counter()
    client = HttpClient(policy)
    with lock_tree(request.out_root):
        remove_stale_temporaries(request.out_root)  # left by a killed run (partial members are kept: .<name>.part)
        metadata = fetch_metadata(client, request)
        frames = None
        if request.splits:
            split_failure = [r.error for r in metadata if r.name == SPLIT_CSV and r.status == "failed"]
            if split_failure:
                raise DownloadError(f"--split needs {SPLIT_CSV}: {split_failure[0]}")
            frames = _split_frames_from(request.out_root / SPLIT_CSV, request)
        cache = VerifiedCache(request.out_root, rehash=rehash)
        plan = plan_download(client, request, cache, frames=frames, jobs=jobs, progress=progress)
        try:
            results = execute_plan(client, plan, cache, jobs=jobs, progress=progress)
        finally:
            cache.save()
    report = DownloadReport((*metadata, *plan.failures, *results), client.stats.as_dict(),
                            time.perf_counter() - start, run_settings(request, client.policy, jobs))
    write_report(report, request.out_root / REPORT_NAME)
    return report


def run_settings(request: DownloadRequest, policy: RetryPolicy, jobs: int) -> dict:
    """What the run was asked to do and what ran it (for the report): request, retry policy, version, git SHA."""
    request_dict = asdict(request)
    request_dict["out_root"] = str(request.out_root)
    return {"request": request_dict, "policy": asdict(policy), "jobs": jobs, "package_version": package_version(),
            "git_sha": git_sha()}


def preview(request: DownloadRequest, *, policy: RetryPolicy | None = None, jobs: int = 4,
            rehash: bool = False) -> DownloadPlan:
    """The plan of a run without writing anything (for --list and --dry-run).

    The split CSV is read from OUT_ROOT when present, or fetched into a temporary folder.
    """
    client = HttpClient(policy)
    frames = None
    if request.splits:
        local = request.out_root / SPLIT_CSV
        if local.is_file():
            frames = _split_frames_from(local, request)
        else:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / SPLIT_CSV
                url = request.metadata_file_url(SPLIT_CSV)
                path.write_bytes(read_until_agreement(client, lambda: client.fetch_whole(url), url))
                frames = _split_frames_from(path, request)
    return plan_download(client, request, VerifiedCache(request.out_root, rehash=rehash), frames=frames, jobs=jobs)


def metadata_state(request: DownloadRequest) -> dict[str, str]:
    """For --list: each dataset-level CSV is "verified" (present and readable) or "missing"."""
    return {name: "verified" if _metadata_ok(name, request.out_root / name) else "missing" for name in METADATA_FILES}


def fetch_metadata(client: HttpClient, request: DownloadRequest) -> list[FileResult]:
    """Fetch the camera-parameter and split CSVs into OUT_ROOT unless a readable copy is there.

    These tables have no published checksum: a fetched file must be as long as announced, read the same twice in
    a row, be non-empty and be readable by the project's reader before it is renamed onto its final name.
    """
    results = []
    for name in METADATA_FILES:
        url, path = request.metadata_file_url(name), request.out_root / name
        if _metadata_ok(name, path):
            results.append(FileResult(name, "skipped", url))
            continue
        try:
            data = read_until_agreement(client, lambda url=url: client.fetch_whole(url), url)
            if not data:
                raise DownloadError(f"{url}: expected a non-empty CSV, got 0 bytes")
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
                _read_metadata(name, tmp, url)
            results.append(FileResult(name, "ok", url, len(data)))
        except DownloadError as error:
            results.append(FileResult(name, "failed", url, error=str(error)))
    return results


def _metadata_ok(name: str, path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        METADATA_READERS[name](path)
    except OBToolkitError:
        return False
    return True


def _read_metadata(name: str, path: Path, url: str) -> None:
    try:
        METADATA_READERS[name](path)
    except OBToolkitError as error:
        raise DownloadError(f"{url}: expected a readable {name}: {error}") from error


def _split_frames_from(path: Path, request: DownloadRequest) -> dict[str, set[tuple[str, int]]]:
    return split_frames(read_split_csv(path), request.splits)


def choose_scenes(request: DownloadRequest, frames: dict[str, set[tuple[str, int]]] | None) -> list[str]:
    """Scenes by name, by split, or by name within the splits (a named scene outside them is an error)."""
    if frames is None:
        return sorted(set(request.scenes))
    if not request.scenes:
        return sorted(frames)
    outside = sorted(set(request.scenes) - set(frames))
    if outside:
        raise ValueError(f"scene(s) {', '.join(outside)} have no public frames in split(s) "
                         f"{', '.join(request.splits)}")
    return sorted(set(request.scenes))


def plan_download(client: HttpClient, request: DownloadRequest, cache: VerifiedCache, *,
                  frames: dict[str, set[tuple[str, int]]] | None = None, jobs: int = 4,
                  progress: bool = False) -> DownloadPlan:
    """Read every chosen scene's central directory (in parallel), select members and check local copies."""
    scenes = choose_scenes(request, frames)
    files: list[PlannedFile] = []
    failures: list[FileResult] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, \
            tqdm(total=len(scenes), unit="archive", desc="index", disable=not progress) as bar:
        futures = [pool.submit(_plan_scene, client, request, cache, scene,
                               _frame_filter(frames, scene)) for scene in scenes]
        for scene, future in zip(scenes, futures, strict=True):
            try:
                planned, refused = future.result()
                files.extend(planned)
                failures.extend(refused)
            except DownloadError as error:
                failures.append(FileResult(f"{scene}.zip", "failed", request.archive_url(scene), error=str(error)))
            bar.update(1)
    return DownloadPlan(tuple(files), tuple(failures))


def _frame_filter(frames: dict[str, set[tuple[str, int]]] | None, scene: str) -> FrameFilter | None:
    if frames is None:
        return None
    allowed = frames.get(scene, set())
    return lambda frame: (frame.camera, frame.frame) in allowed


def _plan_scene(client: HttpClient, request: DownloadRequest, cache: VerifiedCache, scene: str,
                frame_filter: FrameFilter | None) -> tuple[list[PlannedFile], list[FileResult]]:
    """The scene's selected members with their local state, and a failed row for each member whose local state
    cannot be read (a name this file system refuses: a component over 255 bytes, say)."""
    url = request.archive_url(scene)
    index = read_archive_index(client, url)
    planned, refused = [], []
    for member in select_members(scene, index.members, request.selection, frame_filter):
        task = MemberTask(url, member, request.out_root)
        try:
            planned.append(_plan_member(scene, task, cache))
        except OSError as error:
            if is_disk_full(error):
                raise
            refused.append(FileResult(member.name, "failed", url, error=f"{member.name}: cannot be stored under "
                                      f"{request.out_root}: {error.strerror or error}"))
    return planned, refused


def _plan_member(scene: str, task: MemberTask, cache: VerifiedCache) -> PlannedFile:
    if cache.is_verified(scene, task):
        return PlannedFile(scene, task, "verified")
    have = usable_partial_size(task.partial, task.member.compressed_size)
    return PlannedFile(scene, task, "partial" if have else "missing", have)


def execute_plan(client: HttpClient, plan: DownloadPlan, cache: VerifiedCache, *, jobs: int = 4,
                 progress: bool = True) -> list[FileResult]:
    """Fetch every file of the plan that is not verified yet, `jobs` at a time, with a progress bar in bytes."""
    results = [FileResult(f.task.member.name, "skipped", f.task.url) for f in plan.files if f.state == "verified"]
    pending = [f for f in plan.files if f.state != "verified"]
    total = sum(f.bytes_to_fetch for f in pending)
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="download", disable=not progress,
              smoothing=0.1) as bar, _interruptible(client, jobs) as pool:
        bar_lock = threading.Lock()

        def advance(n: int) -> None:
            with bar_lock:
                bar.update(n)

        futures = [pool.submit(_fetch_one, client, f, cache, advance) for f in pending]
        last_save = time.monotonic()
        for future in concurrent.futures.as_completed(futures):
            results.append(future.result())
            if time.monotonic() - last_save > CACHE_SAVE_INTERVAL_S:
                cache.save()
                last_save = time.monotonic()
    return sorted(results, key=lambda r: r.name)


@contextlib.contextmanager
def _interruptible(client: HttpClient, jobs: int) -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    """A thread pool that, on Ctrl-C, tells the workers to stop and drops the queued work (partials are kept)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        yield pool
    except BaseException:
        client.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _fetch_one(client: HttpClient, planned: PlannedFile, cache: VerifiedCache,
               advance: Callable[[int], None]) -> FileResult:
    """One member -> its result row; every exception (network, file system, format) becomes a failed row, except a
    full disk, which stops the run."""
    task = planned.task
    try:
        fetched = fetch_member(client, task, advance)
        cache.remember(planned.scene, task)
        return FileResult(task.member.name, "ok", task.url, fetched)
    except Exception as error:  # a bad file is a failed row, never a dead pool
        if is_disk_full(error):
            raise
        return FileResult(task.member.name, "failed", task.url, error=f"{type(error).__name__}: {error}")


def write_report(report: DownloadReport, path: Path) -> None:
    """The run's report as JSON (counts, transfer counters, every failure with its reason)."""
    atomic_write_text(path, json.dumps(report.as_dict(), indent=2) + "\n")


def format_failures(failures: Sequence[FileResult], limit: int = 20) -> str:
    """The first `limit` failures, one per line: name, then the reason."""
    lines = [f"FAILED {r.name}: {r.error}" for r in failures[:limit]]
    if len(failures) > limit:
        lines.append(f"... and {len(failures) - limit} more (see the JSON report)")
    return "\n".join(lines)
