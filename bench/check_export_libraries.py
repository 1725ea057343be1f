"""Read an `obh export` with the real `webdataset` and `datasets` libraries and compare every array, bit for bit, with
the tree's own files (what the manifest path's readers return). Not a test: the project does not depend on either
library, so this runs in a scratch virtual environment (docs/export.md, "Checked with the real libraries"):

    python3 -m venv LIBS_VENV && LIBS_VENV/bin/pip install datasets webdataset pillow h5py
    .venv/bin/obh export webdataset TREE --out OUT/wds --max-samples 5
    .venv/bin/obh export hf TREE --out OUT/hf --max-samples 5
    LIBS_VENV/bin/python bench/check_export_libraries.py TREE OUT/wds OUT/hf
"""

from __future__ import annotations

import glob
import io
import sys
import tempfile

import datasets
import h5py
import numpy as np
import webdataset as wds
from PIL import Image

PNG_LABELS = ("ob", "instance_contour", "ori", "ori16", "ob_class")


def tree_arrays(tree: str, row: dict) -> dict[str, np.ndarray]:
    """The frame's arrays read from the tree's files, as obtoolkit's readers return them."""
    arrays = {"rgb": np.asarray(Image.open(f"{tree}/{row['rgb_path']}").convert("RGB"))}
    with h5py.File(f"{tree}/{row['depth_path']}") as handle:
        arrays["depth"] = handle["dataset"][()]
    arrays.update({p: np.asarray(Image.open(f"{tree}/{row[p + '_path']}")) for p in PNG_LABELS})
    with np.load(f"{tree}/{row['order_path']}") as archive:
        arrays["order"], arrays["relation_class"] = archive["order"], archive["relation_class"]
    return arrays


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check_webdataset(tree: str, folder: str) -> int:
    def rgb(data):
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def as_stored(data):  # webdataset's own image specs convert to L/RGB: 16-bit labels would lose bits
        return np.asarray(Image.open(io.BytesIO(data)))

    def hdf5(data):
        with h5py.File(io.BytesIO(data), "r") as handle:
            return handle["dataset"][()]

    shards = sorted(glob.glob(f"{folder}/shard-*.tar"))
    dataset = wds.WebDataset(shards, shardshuffle=False).decode(
        wds.handle_extension("jpg", rgb), wds.handle_extension("png", as_stored), wds.handle_extension("hdf5", hdf5))
    count = 0
    for sample in dataset:
        expected = tree_arrays(tree, sample["json"])
        found = {"rgb": sample["rgb.jpg"], "depth": sample["depth.hdf5"], **sample["order.npz"],
                 **{p: sample[f"{p}.png"] for p in PNG_LABELS}}
        wrong = [name for name in expected if not same(expected[name], found[name])]
        assert not wrong, f"{sample['__key__']}: {wrong} differ"
        count += 1
    return count


def check_hf(tree: str, folder: str) -> int:
    cache = tempfile.mkdtemp(prefix="check_export_hf_")  # datasets' cache can mix up two folders of the same name
    loaded = datasets.load_dataset("parquet", data_dir=folder, cache_dir=cache)
    count = 0
    for split in loaded:
        plain = loaded[split]
        for number, row in enumerate(plain.with_format("numpy")):
            expected = tree_arrays(tree, row)
            assert same(expected["rgb"], row["rgb"]), row["key"]
            assert all(same(expected[p], row[p]) for p in PNG_LABELS), row["key"]
            # the numpy format widens float16 to float32 (exactly); training casts to float32 too
            assert row["depth"].dtype == np.float32 and same(expected["depth"].astype(np.float32), row["depth"])
            with np.load(io.BytesIO(plain[number]["order"])) as archive:  # binary: the default format
                assert same(expected["order"], archive["order"])
                assert same(expected["relation_class"], archive["relation_class"])
            count += 1
    as_repo = datasets.load_dataset(folder, cache_dir=cache)  # the folder as a hub repository: the card's `configs`
    assert {k: v.num_rows for k, v in as_repo.items()} == {k: v.num_rows for k, v in loaded.items()}
    return count


def main() -> None:
    tree, shards, hf = sys.argv[1:4]
    print(f"webdataset {wds.__version__}: {check_webdataset(tree, shards)} samples, every array bit-identical")
    print(f"datasets {datasets.__version__}: {check_hf(tree, hf)} rows, every array exact (depth as float32)")


if __name__ == "__main__":
    main()
