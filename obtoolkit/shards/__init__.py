"""Reading OB-Hypersim exported by `obh export`: webdataset tar shards and HuggingFace `datasets` Parquet folders.

Training reads shards through `ShardReader` (random access by key, or streamed shard by shard, split across
distributed ranks and DataLoader workers); both readers return the arrays the manifest path's readers return.
"""

from obtoolkit.shards.index import FORMAT_VERSION, INDEX_NAME, file_sha256, read_index
from obtoolkit.shards.members import (
    ShardSample,
    decode_sample,
    member_name,
    sample_key,
    sample_problems,
    seeded_order,
)
from obtoolkit.shards.parquet import iter_parquet_samples, verify_parquet_folder
from obtoolkit.shards.reader import SAMPLES_NAME, SHARD_NAME, ShardReader, current_process, process_share

__all__ = [
    "FORMAT_VERSION",
    "INDEX_NAME",
    "SAMPLES_NAME",
    "SHARD_NAME",
    "ShardReader",
    "ShardSample",
    "current_process",
    "decode_sample",
    "file_sha256",
    "iter_parquet_samples",
    "member_name",
    "process_share",
    "read_index",
    "sample_key",
    "sample_problems",
    "seeded_order",
    "verify_parquet_folder",
]
