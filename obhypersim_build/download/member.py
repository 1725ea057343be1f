"""Fetching one archive member into the Hypersim layout: resumable, verified, atomic.

The member's compressed bytes go to a hidden partial file beside the target (`.<name>.part`), appended chunk by
chunk, so that a dropped connection or a killed process loses nothing: the next attempt (or run) asks for the rest
with a range starting at the partial size. Only when all compressed bytes are there is the member inflated (zlib,
streaming) or, if stored, hashed; its uncompressed size and CRC-32 must equal the central directory's before it is
renamed onto its final name. A mismatch deletes the partial file and downloads the member again from its start;
nothing unverified ever carries a final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from obhypersim_build.download.transport import (
    Body,
    Cancelled,
    DownloadError,
    HttpClient,
    PermanentError,
    TransientError,
)
from obhypersim_build.download.zipindex import (
    DEFLATED,
    FLAG_ENCRYPTED,
    LOCAL_HEADER,
    STORED,
    ZipMember,
    local_header_lengths,
    parse_local_header,
)
from obtoolkit.fileio import atomic_path, atomic_write_text

READ_BYTES = 1 << 20
ProgressCallback = Callable[[int], None]


class VerificationError(DownloadError):
    """A member's bytes do not match its central-directory entry (size or CRC-32), or do not inflate."""


@dataclass(frozen=True)
class MemberTask:
    """One member of one archive and where it goes.

    Attributes:
        url: the archive's URL.
        member: its central-directory entry.
        root: the Hypersim root being filled; the target is `root / member.name`.
    """

    url: str
    member: ZipMember
    root: Path

    @property
    def target(self) -> Path:
        return self.root / self.member.name

    @property
    def partial(self) -> Path:
        return partial_path(self.target)


def partial_path(target: Path) -> Path:
    """The hidden file that holds a member's compressed bytes while they arrive: `.<name>.part`."""
    return target.with_name(f".{target.name}.part")


def file_crc32(path: Path) -> tuple[int, int]:
    """(size in bytes, CRC-32) of a file, read in 1 MiB blocks."""
    crc, size = 0, 0
    with open(path, "rb") as handle:
        while block := handle.read(READ_BYTES):
            crc = zlib.crc32(block, crc)
            size += len(block)
    return size, crc


def fetch_member(client: HttpClient, task: MemberTask, progress: ProgressCallback | None = None) -> int:
    """Download, verify and install one member; returns the bytes fetched. Raises DownloadError naming the member."""
    member = task.member
    where = f"{task.url}: {member.name}"
    if member.flags & FLAG_ENCRYPTED:
        raise PermanentError(f"{where}: encrypted members are not supported")
    if member.method not in (STORED, DEFLATED):
        raise PermanentError(f"{where}: compression method {member.method} not supported (0 stored or 8 deflated)")
    fetched, verify_failures = 0, 0
    while True:
        fetched += _fill_partial(client, task, progress)
        try:
            _install(task)
            return fetched
        except VerificationError as error:
            task.partial.unlink(missing_ok=True)
            verify_failures += 1
            if verify_failures > client.policy.retries:
                raise VerificationError(f"{error} (gave up after {verify_failures} downloads)") from error
            client.stats.add(retry_kind="verification")


def usable_partial_size(part: Path, compressed_size: int) -> int:
    """Bytes already in a member's partial file; a partial longer than the member is discarded."""
    try:
        have = part.stat().st_size
    except FileNotFoundError:
        return 0
    if have > compressed_size:
        part.unlink()
        return 0
    return have


def _fill_partial(client: HttpClient, task: MemberTask, progress: ProgressCallback | None) -> int:
    """Append to the partial file until it holds all compressed bytes; returns how many were appended."""
    member, part = task.member, task.partial
    part.parent.mkdir(parents=True, exist_ok=True)
    have = start_have = usable_partial_size(part, member.compressed_size)
    data_offset, retrier = None, client.retrier()
    combined = have == 0  # first try one request for the local header and the data together
    with open(part, "ab") as handle, _drop_if_empty(part):
        while have < member.compressed_size:
            before = have
            try:
                if data_offset is None and combined:
                    combined = False
                    with client.open_range(task.url, member.header_offset,
                                           member.guessed_data_offset + member.compressed_size - 1) as body:
                        data_offset = _header_from_body(body, task)
                        if data_offset is not None:
                            have += _append(body, handle, member.compressed_size - have, client, progress)
                elif data_offset is None:  # resuming a partial file, or a local header longer than guessed
                    data_offset = _read_local_header(client, task)
                else:
                    with client.open_range(task.url, data_offset + have,
                                           data_offset + member.compressed_size - 1) as body:
                        have += _append(body, handle, member.compressed_size - have, client, progress)
            except _PartialAppend as partial:
                have += partial.appended
                if have > before:
                    retrier.progressed()
                retrier.failed(partial.error)
            except TransientError as error:
                retrier.failed(error)
    return have - start_have


@contextlib.contextmanager
def _drop_if_empty(part: Path) -> Iterator[None]:
    """On failure, remove a partial file that received nothing (one with bytes is kept for the next attempt)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            if part.stat().st_size == 0:
                part.unlink()
        raise


class _PartialAppend(Exception):
    """A transient failure after `appended` bytes were written to the partial file."""

    def __init__(self, appended: int, error: TransientError):
        super().__init__(str(error))
        self.appended, self.error = appended, error


def _append(body: Body, handle, want: int, client: HttpClient, progress: ProgressCallback | None) -> int:
    """Copy up to `want` bytes of the body to the partial file; flushes after every chunk."""
    appended = 0
    try:
        while appended < want:
            if client.stop.is_set():
                raise Cancelled("interrupted")
            data = body.read(min(READ_BYTES, want - appended))
            if not data:
                break
            handle.write(data)
            handle.flush()
            appended += len(data)
            if progress is not None:
                progress(len(data))
    except TransientError as error:
        raise _PartialAppend(appended, error) from error
    return appended


def _header_from_body(body: Body, task: MemberTask) -> int | None:
    """Read and check the local header at the start of a body; return the member's data offset.

    None when the header's name and extra field run past the body (a local extra field much longer than the
    central one, on a tiny member): the header is then read on its own.
    """
    where = f"{task.url}: {task.member.name}"
    fixed = body.read_exact(LOCAL_HEADER.size)
    variable = local_header_lengths(fixed, task.member, where)
    if variable > body.remaining:
        return None
    return parse_local_header(fixed + body.read_exact(variable), task.member, where)


def _read_local_header(client: HttpClient, task: MemberTask) -> int:
    """Fetch and check a member's local header on its own (when resuming a partial file); return the data offset."""
    member, where = task.member, f"{task.url}: {task.member.name}"
    header = client.fetch_range(task.url, member.header_offset, member.guessed_data_offset - 1)
    full = LOCAL_HEADER.size + local_header_lengths(header, member, where)
    if full > len(header):
        header += client.fetch_range(task.url, member.header_offset + len(header), member.header_offset + full - 1)
    return parse_local_header(header, member, where)


def _install(task: MemberTask) -> None:
    """Verify the complete partial file against the central directory and rename the result onto the target."""
    member, part, target = task.member, task.partial, task.target
    if member.method == STORED:
        size, crc = file_crc32(part)
        _check(task, size, crc)
        with open(part, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(part, target)
        return
    with atomic_path(target) as tmp:
        size, crc = _inflate(part, tmp, task)
        _check(task, size, crc)
    part.unlink()


def _inflate(source: Path, destination: Path, task: MemberTask) -> tuple[int, int]:
    """Inflate raw deflate data from `source` into `destination`; returns (size, CRC-32) of the output.

    Output is produced in bounded pieces and stops one piece past the expected size, so a corrupt stream can
    neither fill memory nor the disk.
    """
    member = task.member
    size, crc = 0, 0
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    with open(source, "rb") as reader, open(destination, "wb") as writer:
        try:
            for data in _inflated_pieces(reader, inflater):
                writer.write(data)
                size, crc = size + len(data), zlib.crc32(data, crc)
                if size > member.uncompressed_size:
                    break
        except zlib.error as error:
            raise VerificationError(f"{task.url}: {member.name}: deflate data do not inflate ({error})") from error
    if size <= member.uncompressed_size and (not inflater.eof or inflater.unused_data):
        raise VerificationError(f"{task.url}: {member.name}: the deflate stream does not end where its "
                                f"{member.compressed_size} compressed bytes do")
    return size, crc


def _inflated_pieces(reader, inflater) -> Iterator[bytes]:
    """Inflated output of a file, in pieces of at most READ_BYTES (the last piece is the flush)."""
    while block := reader.read(READ_BYTES):
        yield inflater.decompress(block, READ_BYTES)
        while inflater.unconsumed_tail:
            yield inflater.decompress(inflater.unconsumed_tail, READ_BYTES)
    yield inflater.flush()


def _check(task: MemberTask, size: int, crc: int) -> None:
    member = task.member
    if (size, crc) != (member.uncompressed_size, member.crc32):
        raise VerificationError(f"{task.url}: {member.name}: expected {member.uncompressed_size} bytes with CRC-32 "
                                f"{member.crc32:08x}, got {size} bytes with CRC-32 {crc:08x}")


class VerifiedCache:
    """Remembers, per scene, files verified before (by size and mtime) so that reruns need not re-hash them.

    Stored as `<root>/.obh_download/<scene>.verified.json`: {member name: [size, mtime_ns, crc32]}. An entry counts
    only while the file's size and mtime are unchanged and the central directory still expects that CRC-32.
    """

    def __init__(self, root: Path, *, rehash: bool = False):
        self.folder = Path(root) / ".obh_download"
        self.rehash = rehash
        self._scenes: dict[str, dict[str, list[int]]] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()

    def _entries(self, scene: str) -> dict[str, list[int]]:
        if scene not in self._scenes:
            path = self.folder / f"{scene}.verified.json"
            entries = {}
            with contextlib.suppress(FileNotFoundError, ValueError):
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    entries = {k: v for k, v in loaded.items() if isinstance(v, list) and len(v) == 3}
            self._scenes[scene] = entries
        return self._scenes[scene]

    def is_verified(self, scene: str, task: MemberTask) -> bool:
        """Whether the target exists with the member's size and CRC-32 (hashing it unless the cache vouches)."""
        member, target = task.member, task.target
        try:
            stat = target.stat()
        except FileNotFoundError:
            return False
        if stat.st_size != member.uncompressed_size:
            return False
        key = [stat.st_size, stat.st_mtime_ns, member.crc32]
        with self._lock:
            if not self.rehash and self._entries(scene).get(member.name) == key:
                return True
        if file_crc32(target)[1] != member.crc32:
            return False
        self._remember(scene, member.name, key)
        return True

    def remember(self, scene: str, task: MemberTask) -> None:
        """Record a file just installed (verified by `fetch_member`)."""
        stat = task.target.stat()
        self._remember(scene, task.member.name, [stat.st_size, stat.st_mtime_ns, task.member.crc32])

    def _remember(self, scene: str, name: str, key: list[int]) -> None:
        with self._lock:
            self._entries(scene)[name] = key
            self._dirty.add(scene)

    def save(self) -> None:
        """Write the scenes whose entries changed (atomically)."""
        with self._lock:
            for scene in sorted(self._dirty):
                atomic_write_text(self.folder / f"{scene}.verified.json",
                                  json.dumps(self._scenes[scene], sort_keys=True))
            self._dirty.clear()
