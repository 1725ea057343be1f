"""obtoolkit.shards: reading exports at random, in a given order or shard by shard, split across processes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

from obhypersim_build.export import ExportSettings, export_dataset
from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.labels_io import array_hash
from obtoolkit.shards import (
    ShardReader,
    ShardSample,
    current_process,
    iter_parquet_samples,
    process_share,
    sample_problems,
    seeded_order,
)
from obtoolkit.shards.members import hash_matches
from obtoolkit.shards.reader import TAR_BLOCK, padded
from tests.obhypersim_build.export_tree import make_export_tree

KEYS = [f"k{i:02d}" for i in range(11)]


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """8 samples in 4 shards of 2, manifest order."""
    tmp = tmp_path_factory.mktemp("shards")
    root = make_export_tree(tmp)
    out = tmp / "wds"
    export_dataset(root, out, ExportSettings(kind="webdataset", max_samples=2, max_bytes=None, shuffle=False),
                   progress=False)
    return out


def test_seeded_order_is_a_keyed_blake2b_sort():
    reference = sorted(KEYS, key=lambda k: hashlib.blake2b(f"5:2:{k}".encode(), digest_size=8).digest())
    assert seeded_order(KEYS, 5, 2) == reference
    assert sorted(seeded_order(KEYS, 1)) == KEYS and seeded_order(KEYS, 1) != seeded_order(KEYS, 2)


@pytest.mark.parametrize(("world_size", "num_workers", "chunk"), [(1, 1, 1), (2, 1, 1), (2, 3, 2), (3, 2, 4)])
def test_process_shares_are_disjoint_and_complete(world_size, num_workers, chunk):
    shares = [process_share(KEYS, rank=r, world_size=world_size, worker=w, num_workers=num_workers, chunk=chunk)
              for r in range(world_size) for w in range(num_workers)]
    assert sorted(k for share in shares for k in share) == KEYS
    for rank in range(world_size):  # a DataLoader taking batches round-robin from the workers keeps the rank's order
        batches = [[share[i:i + chunk] for i in range(0, len(share), chunk)]
                   for share in shares[rank * num_workers:(rank + 1) * num_workers]]
        merged = [k for j in range(max(map(len, batches))) for b in batches if j < len(b) for k in b[j]]
        assert merged == KEYS[rank::world_size]
    with pytest.raises(ValueError, match="bad partition"):
        process_share(KEYS, rank=2, world_size=2, worker=0, num_workers=1)


def test_current_process_defaults_outside_workers():
    assert current_process() == (0, 1, 0, 1)
    assert current_process(1, 4, 2, 3) == (1, 4, 2, 3)


def test_random_access_and_given_order(export):
    reader = ShardReader(export)
    rows = reader.manifest_rows()
    assert len(reader) == 8 and [r["frame"] for r in rows[:4]] == [0, 1, 2, 3]
    order = reader.shuffled_keys(seed=3, epoch=1)
    assert [s.key for s in reader.iter_keys(order)] == order
    assert [s.key for s in reader.iter_keys(order, rank=1, world_size=2)] == order[1::2]
    sample = reader.read(order[0])
    assert sample.rgb.dtype == np.uint8 and sample.rgb.shape == (24, 32, 3)
    assert sample.distance_m.dtype == np.float16 and sample_problems(sample) == []
    with pytest.raises(KeyError, match="no sample 'nope'"):
        reader.read("nope")
    training = ShardReader(export, products=("rgb", "depth", "ob", "instance_contour")).read(order[0])
    assert set(training.arrays) == {"rgb", "depth", "ob", "instance_contour"} and training.documents == {}
    assert all(np.array_equal(training.arrays[p], sample.arrays[p]) for p in training.arrays)
    assert training.record == sample.record


def test_stream_splits_whole_shards_and_shuffles_by_seed_and_epoch(export):
    reader = ShardReader(export)
    assert [s.key for s in reader.stream()] == reader.keys
    shards = [[s.key for s in reader.stream(rank=r, world_size=2, worker=w, num_workers=2)]
              for r in range(2) for w in range(2)]
    assert sorted(k for share in shards for k in share) == sorted(reader.keys)
    assert all(len(share) == 2 for share in shards)  # one shard of two samples each
    epoch0 = [s.key for s in reader.stream(shuffle=True, seed=1, epoch=0)]
    assert epoch0 == [s.key for s in reader.stream(shuffle=True, seed=1, epoch=0)]
    assert epoch0 != [s.key for s in reader.stream(shuffle=True, seed=1, epoch=1)]
    assert sorted(epoch0) == sorted(reader.keys)


class _KeyStream(IterableDataset):
    def __init__(self, folder: Path, keys: list[str], batch_size: int):
        self.folder, self.keys, self.batch_size = folder, keys, batch_size

    def __iter__(self):
        reader = ShardReader(self.folder)
        for sample in reader.iter_keys(self.keys, chunk=self.batch_size):  # worker from get_worker_info()
            yield sample.key, torch.from_numpy(sample.rgb.copy())


def test_dataloader_workers_yield_the_given_order(export):
    keys = ShardReader(export).shuffled_keys(seed=0)
    loader = DataLoader(_KeyStream(export, keys, 3), batch_size=3, num_workers=2)
    assert [k for batch_keys, _ in loader for k in batch_keys] == keys


def test_a_member_that_does_not_decode_is_named(export, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(export, copy)
    reader = ShardReader(copy, check_checksums=False)
    members = reader.table["members"][0].as_py()
    before = next(i for i, m in enumerate(members) if m["name"] == "ob.png")
    start = reader.table["offset"][0].as_py() + sum(TAR_BLOCK + padded(m["size"]) for m in members[:before])
    with open(reader.shards[0], "r+b") as handle:
        handle.seek(start + TAR_BLOCK)
        handle.write(bytes(members[before]["size"]))  # zeros: the header still matches, the PNG does not decode
    with pytest.raises(FormatError, match=r"shard-000000\.tar \(sample .*\): expected a decodable member ob\.png"):
        reader.read(reader.keys[0])
    with pytest.raises(FormatError, match=r"ob\.png with blake2b .* \(corrupt shard\)"):
        ShardReader(copy).read(reader.keys[0])
    with pytest.raises(MissingFileError, match="index.json"):
        ShardReader(tmp_path)


def test_label_hashes_and_sizes_are_checked():
    mask = np.zeros((4, 5), np.uint8)
    mask[1, 2] = 255
    assert hash_matches(mask, array_hash(mask > 0)) and hash_matches(mask, array_hash(mask))
    assert not hash_matches(mask, array_hash(mask.astype(np.uint16)))
    record = {"scene": "ai_001_001", "camera": "cam_00", "frame": 3, "height": 4, "width": 6,
              "ob_hash": array_hash(mask > 0), "params_hash": "abc"}
    sample = ShardSample("ai_001_001-cam_00-0003", record, {"ob": mask}, {})
    assert sample_problems(sample) == ["ai_001_001-cam_00-0003: ob is (4, 5), the manifest says 4x6"]
    record["width"], record["ob_hash"] = 5, array_hash(mask)[::-1]
    assert sample_problems(sample) == ["ai_001_001-cam_00-0003: ob does not match the manifest's ob_hash"]
    wrong_key = ShardSample("ai_001_001-cam_00-0004", {**record, "ob_hash": None}, {"ob": mask}, {})
    assert "the row is that of ai_001_001/cam_00/3" in sample_problems(wrong_key)[0]


def test_parquet_files_without_our_metadata_are_refused(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"key": ["a"]}), path)
    with pytest.raises(FormatError, match=r"x\.parquet: expected schema metadata ob_hypersim\.members"):
        next(iter_parquet_samples(path))
