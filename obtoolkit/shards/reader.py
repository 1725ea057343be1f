"""Reading webdataset shards written by `obh export webdataset`, without the webdataset library.

A shard is a POSIX (ustar) tar: each member a 512-byte header and its data padded to 512 bytes; the members of one
sample are consecutive. `samples.parquet` holds, per sample, its shard, byte offset and length and each member's
name, size and blake2b, plus the manifest columns, so a sample can be read at random (one seek and one read) or the
shards streamed in order. Every read checks the tar headers against the index and, by default, the checksums.

Partitioning follows `torch.utils.data`: a process is (rank of world_size) x (DataLoader worker of num_workers);
when not given they are taken from torch.distributed and `get_worker_info()` if torch is loaded, else 0 of 1.
"""

from __future__ import annotations

import sys
import tarfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.shards.index import read_index, shard_problems
from obtoolkit.shards.members import (
    ROW_MEMBER,
    ShardSample,
    decode_sample,
    member_digest,
    sample_problems,
    seeded_order,
    split_member,
)

SAMPLES_NAME = "samples.parquet"
SHARD_NAME = "shard-{:06d}.tar"
TAR_BLOCK = 512
# the columns of samples.parquet before the manifest's own
LOCATION_COLUMNS = ("key", "shard", "offset", "length", "members")


def padded(size: int) -> int:
    """Bytes a member's data takes in a tar: `size` rounded up to whole 512-byte blocks."""
    return -(-size // TAR_BLOCK) * TAR_BLOCK


def split_members(data: bytes, key: str, members: Sequence[dict], *, where: Path, offset: int,
                  check_checksums: bool, products: Collection[str] | None = None) -> dict[str, bytes]:
    """Cut one sample's bytes (its tar headers and data) into member name -> bytes, checking every header's name
    and size against the index and, when asked, every kept member's blake2b. `products`: keep only these members
    (and the row); None keeps all."""
    found: dict[str, bytes] = {}
    position = 0
    for member in members:
        name = f"{key}.{member['name']}"
        try:
            info = tarfile.TarInfo.frombuf(data[position:position + TAR_BLOCK], "utf-8", "surrogateescape")
        except tarfile.HeaderError as error:
            raise FormatError(where, f"a tar header of {name} at byte {offset + position}", str(error)) from error
        if info.name != name or info.size != member["size"]:
            raise FormatError(where, f"member {name} of {member['size']} bytes at byte {offset + position}",
                              f"{info.name} of {info.size} bytes")
        start = position + TAR_BLOCK
        position = start + padded(info.size)
        if products is not None and member["name"] != ROW_MEMBER and split_member(member["name"])[0] not in products:
            continue
        payload = data[start:start + info.size]
        if check_checksums and member_digest(payload) != member["blake2b"]:
            raise FormatError(where, f"member {name} with blake2b {member['blake2b']}", "other bytes (corrupt shard)")
        found[member["name"]] = payload
    return found


def read_sample_at(handle: BinaryIO, key: str, offset: int, length: int, members: Sequence[dict], *, where: Path,
                   check_checksums: bool = True, products: Collection[str] | None = None) -> ShardSample:
    """Read the sample stored at `offset` (`length` bytes) of an open shard and decode its members (only those of
    `products`, and the row, when given)."""
    handle.seek(offset)
    data = handle.read(length)
    if len(data) != length:
        raise FormatError(where, f"{length} bytes of sample {key} at byte {offset}", f"{len(data)} (truncated shard)")
    payloads = split_members(data, key, members, where=where, offset=offset, check_checksums=check_checksums,
                             products=products)
    return decode_sample(key, payloads, where=where)


def process_share(items: Sequence, *, rank: int, world_size: int, worker: int, num_workers: int,
                  chunk: int = 1) -> list:
    """This process's items: rank r takes items[r::world_size]; worker w of those takes chunks w, w + num_workers,
    ... of `chunk` items. With chunk = batch size, a DataLoader over an IterableDataset yields the given order."""
    if not (0 <= rank < world_size and 0 <= worker < num_workers and chunk >= 1):
        raise ValueError(f"bad partition: rank {rank} of {world_size}, worker {worker} of {num_workers}, "
                         f"chunk {chunk}")
    mine = list(items)[rank::world_size]
    chunks = [mine[i:i + chunk] for i in range(0, len(mine), chunk)]
    return [item for piece in chunks[worker::num_workers] for item in piece]


def current_process(rank: int | None = None, world_size: int | None = None, worker: int | None = None,
                    num_workers: int | None = None) -> tuple[int, int, int, int]:
    """(rank, world_size, worker, num_workers): the given values, else torch's, else (0, 1, 0, 1)."""
    dist = sys.modules.get("torch.distributed")
    if rank is None or world_size is None:
        initialized = dist is not None and dist.is_available() and dist.is_initialized()
        rank = rank if rank is not None else (dist.get_rank() if initialized else 0)
        world_size = world_size if world_size is not None else (dist.get_world_size() if initialized else 1)
    data = sys.modules.get("torch.utils.data")
    info = data.get_worker_info() if data is not None else None
    worker = worker if worker is not None else (info.id if info is not None else 0)
    num_workers = num_workers if num_workers is not None else (info.num_workers if info is not None else 1)
    return rank, world_size, worker, num_workers


class ShardReader:
    """The samples of a folder written by `obh export webdataset`.

    Args:
        folder: the export folder (index.json, samples.parquet, shard-NNNNNN.tar).
        check_checksums: compare every member's blake2b with the index when reading.
        products: decode only these products (e.g. ("rgb", "depth", "ob", "instance_contour", "valid") for
            training); the others are skipped, unread. None decodes every member; `verify` always does.
    """

    def __init__(self, folder: str | Path, *, check_checksums: bool = True, products: Collection[str] | None = None):
        self.folder = Path(folder)
        self.index = read_index(self.folder, "webdataset")
        self.check_checksums = check_checksums
        self.products = None if products is None else frozenset(products)
        self.table = _read_samples_table(self.folder / SAMPLES_NAME, self.index)
        self.shards = [self.folder / entry["name"] for entry in self.index["shards"]]
        self.keys: list[str] = self.table["key"].to_pylist()
        self._position = {key: i for i, key in enumerate(self.keys)}
        self._shard = np.asarray(self.table["shard"], dtype=np.int64)
        self._offset = np.asarray(self.table["offset"], dtype=np.int64)
        self._length = np.asarray(self.table["length"], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def manifest_rows(self) -> list[dict]:
        """The manifest rows of the exported samples, in manifest order (scene, camera, frame)."""
        rows = self.table.drop_columns(list(LOCATION_COLUMNS)).to_pylist()
        return sorted(rows, key=lambda row: (row["scene"], row["camera"], row["frame"]))

    def shuffled_keys(self, seed: int, epoch: int = 0) -> list[str]:
        """Every key in the deterministic order of (seed, epoch) (`members.seeded_order`)."""
        return seeded_order(self.keys, seed, epoch)

    def read(self, key: str) -> ShardSample:
        """One sample by key (random access: one seek and one read)."""
        if key not in self._position:
            raise KeyError(f"{self.folder}: no sample {key!r}")
        position = self._position[key]
        with open(self.shards[self._shard[position]], "rb") as handle:
            return self._read(handle, position)

    def iter_keys(self, keys: Sequence[str], *, rank: int | None = None, world_size: int | None = None,
                  worker: int | None = None, num_workers: int | None = None, chunk: int = 1) -> Iterator[ShardSample]:
        """The samples of `keys` in that order, this process's share of them (`process_share`)."""
        share = process_share(keys, **_process_kwargs(rank, world_size, worker, num_workers), chunk=chunk)
        for key in share:
            yield self.read(key)

    def stream(self, *, shuffle: bool = False, seed: int = 0, epoch: int = 0, rank: int | None = None,
               world_size: int | None = None, worker: int | None = None,
               num_workers: int | None = None) -> Iterator[ShardSample]:
        """Whole shards, this process's share of them, each read front to back (the webdataset way).

        With `shuffle`, the shards and the samples within each shard come in the order of (seed, epoch).
        """
        order = [str(shard) for shard in range(len(self.shards))]
        order = [int(shard) for shard in (seeded_order(order, seed, epoch) if shuffle else order)]
        share = process_share(order, **_process_kwargs(rank, world_size, worker, num_workers))
        for shard in share:
            positions = np.flatnonzero(self._shard == shard).tolist()
            if shuffle:
                by_key = {self.keys[p]: p for p in positions}
                positions = [by_key[k] for k in seeded_order(list(by_key), seed, epoch, shard)]
            with open(self.shards[shard], "rb") as handle:
                for position in positions:
                    yield self._read(handle, position)

    def verify(self) -> Iterator[tuple[str, list[str]]]:
        """Check every shard (size, sha256) and every sample (decodes, matches its manifest row); yields
        (what, problems) per shard and per sample, problems naming the shard."""
        for shard, path in enumerate(self.shards):
            problems = shard_problems(self.folder, self.index["shards"][shard])
            yield path.name, problems
            if problems:
                continue
            with open(path, "rb") as handle:
                for position in np.flatnonzero(self._shard == shard).tolist():
                    try:
                        sample = self._read(handle, position, every_product=True)
                    except FormatError as error:
                        yield self.keys[position], [str(error)]
                        continue
                    yield sample.key, [f"{path}: {p}" for p in sample_problems(sample)]

    def _read(self, handle: BinaryIO, position: int, *, every_product: bool = False) -> ShardSample:
        members = self.table["members"][position].as_py()
        return read_sample_at(handle, self.keys[position], int(self._offset[position]),
                              int(self._length[position]), members, where=self.shards[self._shard[position]],
                              check_checksums=self.check_checksums or every_product,
                              products=None if every_product else self.products)


def _process_kwargs(rank, world_size, worker, num_workers) -> dict[str, int]:
    rank, world_size, worker, num_workers = current_process(rank, world_size, worker, num_workers)
    return {"rank": rank, "world_size": world_size, "worker": worker, "num_workers": num_workers}


def _read_samples_table(path: Path, index: dict) -> pa.Table:
    """samples.parquet, checked against index.json (its columns, its samples, its shards)."""
    if not path.is_file():
        raise MissingFileError(path, "sample index of a webdataset export")
    try:
        table = pq.read_table(path).combine_chunks()
    except (pa.ArrowInvalid, OSError) as error:
        raise FormatError(path, "a Parquet sample index", str(error)) from error
    missing = [c for c in LOCATION_COLUMNS if c not in table.column_names]
    if missing:
        raise FormatError(path, f"columns {list(LOCATION_COLUMNS)}", f"no {missing}")
    keys = [key for shard in index["shards"] for key in shard["keys"]]
    if table["key"].to_pylist() != keys or not all(0 <= s < len(index["shards"]) for s in table["shard"].to_pylist()):
        raise FormatError(path, "the samples and shards index.json lists", "others (a mix of two exports?)")
    return table
