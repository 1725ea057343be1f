"""Training samples from webdataset shards written by `obh export webdataset` (`data.shards=DIR`).

The shards carry every file the manifest path reads, so only the source of the arrays changes: the records are the
exported manifest rows selected as `select_records` selects them (status ok, the split or list, sorted by scene,
camera, frame), and `read_arrays` decodes one sample by key (`ShardReader.read`: one seek, one read, checksums
checked) into the arrays `ObHypersimDataset.read_arrays` makes from the tree's files, bit for bit. Augmentation,
`SampleKey` epochs, the sampler and the loader are unchanged, so a run with the same seed sees the same batches and
computes the same losses as from the tree (tests/training/test_shard_data.py). A `ShardReader` pickles into
DataLoader workers; every read opens its shard, so workers share nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from obtoolkit.boundaries.orientation import decode_ori16
from obtoolkit.errors import FormatError
from obtoolkit.hypersim import FrameId
from obtoolkit.manifest import STATUS_OK, FrameRecord
from obtoolkit.shards import ShardReader, sample_key
from training.data import DataConfig, ObHypersimDataset, frame_name, read_split_list

TRAINING_PRODUCTS = ("rgb", "depth", "ob", "instance_contour", "valid")  # + "ori16" when orientation is asked


def shard_records(reader: ShardReader, config: DataConfig) -> list[FrameRecord]:
    """The exported rows `select_records` would take from the manifest: status ok, of `config.split` (or of
    `config.split_list`), sorted by (scene, camera, frame)."""
    records = [FrameRecord.from_dict(row) for row in reader.manifest_rows() if row["status"] == STATUS_OK]
    if config.split_list is None:
        records = [r for r in records if r.split == config.split]
    else:
        wanted = set(read_split_list(config.split_list))
        records = [r for r in records if FrameId(r.scene, r.camera, r.frame) in wanted]
    if not records:
        what = f"frames of {config.split_list}" if config.split_list else f"split {config.split!r}"
        raise ValueError(f"{reader.folder}: no exported (status ok) {what}")
    return records


class ShardDataset(ObHypersimDataset):
    """`ObHypersimDataset` whose arrays come from an export folder of webdataset shards instead of the tree.

    Args:
        config: as for the tree (`config.root` and `config.manifest` are not read; `camera_csv` is, for planar
            depth).
        shards: the folder `obh export webdataset` wrote (index.json, samples.parquet, shard-*.tar).
        records: the rows to serve (default: `shard_records(reader, config)`).
        seed: the augmentation seed.
    """

    def __init__(self, config: DataConfig, shards: str | Path, records: Sequence[FrameRecord] | None = None,
                 seed: int = 0):
        products = TRAINING_PRODUCTS + (("ori16",) if config.orientation else ())
        self.reader = ShardReader(shards, products=products)
        super().__init__(config, records if records is not None else shard_records(self.reader, config), seed=seed)

    def read_arrays(self, record: FrameRecord) -> dict[str, np.ndarray]:
        """The arrays of `ObHypersimDataset.read_arrays`, decoded from the record's sample in the shards."""
        frame = frame_name(record)
        key = sample_key(record.scene, record.camera, record.frame)
        where = self.reader.folder / f"{key} ({frame})"
        try:
            sample = self.reader.read(key)
        except KeyError as error:
            raise FormatError(self.reader.folder, f"an exported sample {key} of {frame}", "none") from error
        image = sample.rgb.astype(np.float32)
        distance = sample.distance_m.astype(np.float32)
        if distance.shape != image.shape[:2]:
            raise FormatError(where, f"depth of size {image.shape[:2]} like the RGB", str(distance.shape))
        with np.errstate(invalid="ignore"):
            if not np.any(np.isfinite(distance) & (distance > 0)):
                raise FormatError(where, f"some valid depth in {frame}", "no finite depth > 0")
        if self.config.depth == "planar":
            distance = distance * self._axis_cosines(record.scene, distance.shape)
        arrays = {"image": image, "depth": distance / self.config.depth_scale,
                  "boundary": self._shard_boundary(record, sample.arrays, where)}
        if record.valid_path is not None:  # the generator's valid mask, as the tree path reads it
            if "valid" not in sample.arrays:
                raise FormatError(where, "a valid-mask member (valid)", "none exported")
            arrays["valid"] = sample.arrays["valid"] == 255  # 0/255, as read_valid_mask decodes it
        if self.config.orientation:
            if "ori16" not in sample.arrays:
                raise FormatError(where, "a 16-bit orientation member (ori16)", "none exported")
            arrays["theta"] = decode_ori16(sample.arrays["ori16"]).astype(np.float32)
        return arrays

    def _shard_boundary(self, record: FrameRecord, members: dict[str, np.ndarray], where: Path) -> np.ndarray:
        if record.ob_path is None or "ob" not in members:
            raise FormatError(where, "an ob member", "none exported")
        target = members["ob"] > 0
        if self.config.target == "boundary_or_contour" and record.instance_contour_path is not None:
            if "instance_contour" not in members:
                raise FormatError(where, "an instance_contour member", "none exported")
            target |= members["instance_contour"] > 0
        return target.astype(np.float32)
