"""`obh export`: round trips to webdataset shards and HuggingFace Parquet, sizing, order, resumption, failures."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

from obh.cli import main
from obhypersim_build.export import ExportSettings, export_dataset, plan_export
from obhypersim_build.export.plan import tar_file_bytes
from obtoolkit.errors import FormatError
from obtoolkit.fileio import is_temporary
from obtoolkit.hypersim import read_hdf5_dataset, read_rgb_image
from obtoolkit.labels_io import read_npz_arrays, read_png
from obtoolkit.products import products
from obtoolkit.shards import ShardReader, iter_parquet_samples, read_index, sample_key

from .export_tree import ODD_DEPTH_FRAME, make_export_tree, manifest_rows


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return make_export_tree(tmp_path_factory.mktemp("export_tree"))


def wds(kind: str = "webdataset", **options) -> ExportSettings:
    return ExportSettings(kind=kind, **{"max_bytes": None, **options})


def key_of(row: dict) -> str:
    return sample_key(row["scene"], row["camera"], row["frame"])


def same_array(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal dtype, shape and bits (NaN payloads included)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_matches_manifest_readers(root: Path, row: dict, arrays: dict[str, np.ndarray]) -> None:
    """The arrays a shard gives equal, bit for bit, what the manifest path's readers return."""
    assert same_array(arrays["rgb"], read_rgb_image(root / row["rgb_path"], what="rgb"))
    assert same_array(arrays["depth"], read_hdf5_dataset(root / row["depth_path"], what="depth"))
    for entry in products("label"):  # every label product of the table, the valid mask included
        path = root / row[entry.column]
        if entry.codec == "npz":
            stored = read_npz_arrays(path, tuple(key for key, _, _ in entry.arrays), what=entry.name)
            assert all(same_array(arrays[key], array) for key, array in stored.items())
        else:
            dtype = np.uint16 if entry.codec == "png_u16" else np.uint8
            assert same_array(arrays[entry.name], read_png(path, what=entry.name, dtype=dtype))


def test_webdataset_round_trip_is_bit_exact(tree, tmp_path):
    out = tmp_path / "wds"
    summary = export_dataset(tree, out, wds(max_samples=3, shuffle=False), progress=False)
    rows = manifest_rows(tree)
    assert (summary.n_samples, summary.n_parts, summary.n_failed) == (8, 3, 0)
    reader = ShardReader(out)
    assert reader.keys == [key_of(r) for r in rows]  # unshuffled: manifest order
    for row in rows:
        sample = reader.read(key_of(row))
        assert sample.record == row
        assert_matches_manifest_readers(tree, row, sample.arrays)
        assert sample.documents["stats"]["ob_hash"] == row["ob_hash"]
    assert np.isnan(reader.read(sample_key(*ODD_DEPTH_FRAME)).distance_m).any()
    # the shards are plain webdataset tars: members <key>.<product>.<ext>, files byte for byte, the row as JSON
    with tarfile.open(out / "shard-000000.tar") as archive:
        names = archive.getnames()
        first = key_of(rows[0])
        assert names[:3] == [f"{first}.rgb.jpg", f"{first}.depth.hdf5", f"{first}.ob.png"]
        for column in ("rgb_path", "depth_path", "ob_path", "order_path", "stats_path"):
            name = f"{first}.{column.removesuffix('_path')}.{rows[0][column].rsplit('.', 1)[1]}"
            assert archive.extractfile(name).read() == (tree / rows[0][column]).read_bytes(), column
        assert json.loads(archive.extractfile(f"{first}.json").read())["ob_hash"] == rows[0]["ob_hash"]
    assert len({name.split(".")[0] for name in names}) == 3


def test_webdataset_index_records_settings_provenance_and_checksums(tree, tmp_path):
    export_dataset(tree, tmp_path / "wds", wds(max_samples=5, seed=3), progress=False)
    index = read_index(tmp_path / "wds", "webdataset")
    assert index["settings"]["seed"] == 3 and index["settings"]["max_samples"] == 5
    assert index["package_version"] and len(index["source"]["manifest_sha256"]) == 64
    assert [s["samples"] for s in index["shards"]] == [5, 3]
    assert sorted(k for s in index["shards"] for k in s["keys"]) == sorted(key_of(r) for r in manifest_rows(tree))
    for entry in index["shards"]:
        assert (tmp_path / "wds" / entry["name"]).stat().st_size == entry["bytes"]


def test_hf_round_trip_is_exact_and_laid_out_for_datasets(tree, tmp_path):
    out = tmp_path / "hf"
    export_dataset(tree, out, wds("hf", max_samples=3), progress=False)
    files = sorted(p.relative_to(out).as_posix() for p in out.glob("data/*.parquet"))
    assert files == ["data/test-00000-of-00002.parquet", "data/test-00001-of-00002.parquet",
                     "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]
    rows = {key_of(r): r for r in manifest_rows(tree)}
    seen = []
    for path in files:
        schema = pq.read_schema(out / path)
        features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
        assert features["rgb"] == {"_type": "Image"} and features["ori16"] == {"_type": "Image"}
        assert schema.field("depth").type.value_type.value_type == pa.float16()  # (H, W) nested lists
        for sample, members in iter_parquet_samples(out / path):
            row = rows[sample.key]
            assert sample.record["split"] == row["split"] and path.startswith(f"data/{row['split']}")
            assert_matches_manifest_readers(tree, row, sample.arrays)
            assert members["rgb.jpg"] == (tree / row["rgb_path"]).read_bytes()
            assert members["order.npz"] == (tree / row["order_path"]).read_bytes()
            seen.append(sample.key)
    assert sorted(seen) == sorted(rows)
    card = (out / "README.md").read_text()
    assert "license: cc-by-sa-3.0" in card and "@inproceedings{roberts2021hypersim" in card
    assert "path: data/train-*" in card and "| `ori16` | Image |" in card
    assert "| `depth` | float16 array (2-D nested lists) |" in card


def test_shard_sizes_respect_max_bytes_and_max_samples(tree, tmp_path):
    sample_bytes = [s.tar_bytes for p in plan_export(tree, tree / "manifest.parquet", wds(), progress=False).parts
                    for s in p.samples]
    limit = tar_file_bytes(2 * max(sample_bytes))  # two of the largest samples always fit
    export_dataset(tree, tmp_path / "bytes", wds(max_bytes=limit), progress=False)
    shards = read_index(tmp_path / "bytes")["shards"]
    assert len(shards) > 1 and all(s["bytes"] <= limit for s in shards)
    assert all(s["bytes"] % 10240 == 0 for s in shards)
    export_dataset(tree, tmp_path / "both", wds(max_bytes=limit, max_samples=2), progress=False)
    assert all(s["samples"] <= 2 and s["bytes"] <= limit for s in read_index(tmp_path / "both")["shards"])
    # a sample larger than the limit gets a shard alone
    export_dataset(tree, tmp_path / "tiny", wds(max_bytes=1), progress=False)
    assert [s["samples"] for s in read_index(tmp_path / "tiny")["shards"]] == [1] * 8


def test_shuffle_is_deterministic_by_seed(tree, tmp_path):
    digests = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        export_dataset(tree, tmp_path / name, wds(max_samples=3, seed=seed), progress=False)
        digests[name] = [(s["keys"], s["sha256"]) for s in read_index(tmp_path / name)["shards"]]
    assert digests["a"] == digests["b"]
    assert [k for keys, _ in digests["a"] for k in keys] != [k for keys, _ in digests["c"] for k in keys]
    manifest_order = [key_of(r) for r in manifest_rows(tree)]
    assert sorted(k for keys, _ in digests["a"] for k in keys) == sorted(manifest_order)
    assert [k for keys, _ in digests["a"] for k in keys] != manifest_order


KILL_SCRIPT = """
import os, signal, sys, tarfile
from obhypersim_build.export import ExportSettings, export_dataset
calls = [0]
add = tarfile.TarFile.addfile
def addfile_then_die(self, *args, **kwargs):
    calls[0] += 1
    if calls[0] == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)  # mid-shard: a partial temporary file stays behind
    return add(self, *args, **kwargs)
tarfile.TarFile.addfile = addfile_then_die
export_dataset(sys.argv[1], sys.argv[2], ExportSettings(kind="webdataset", max_samples=3, max_bytes=None),
               progress=False)
"""


def test_killed_export_resumes_keeping_finished_shards(tree, tmp_path):
    clean = tmp_path / "clean"
    export_dataset(tree, clean, wds(max_samples=3), progress=False)
    killed = tmp_path / "killed"
    members_per_sample = len(plan_export(tree, tree / "manifest.parquet", wds(), progress=False).parts[0].samples[0]
                             .members)
    kill_at = 6 * members_per_sample + 4  # the 4th member of the 7th sample: the third shard, half written
    result = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tree), str(killed), str(kill_at)],
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == -signal.SIGKILL
    assert sorted(p.name for p in killed.glob("shard-*.tar")) == ["shard-000000.tar", "shard-000001.tar"]
    left = [p for p in killed.glob(".shard-000002.tar.*") if is_temporary(p)]
    assert left, "the killed writer left its temporary file"
    assert not (killed / "index.json").exists()
    before = (killed / "shard-000000.tar").stat().st_mtime_ns
    # a finished shard damaged after the crash is found (sha256) and redone
    with open(killed / "shard-000001.tar", "r+b") as handle:
        handle.seek(700)
        handle.write(b"X")
    summary = export_dataset(tree, killed, wds(max_samples=3), progress=False)
    assert summary.n_kept == 1 and (killed / "shard-000000.tar").stat().st_mtime_ns == before
    assert not [p for p in killed.glob(".*") if is_temporary(p)]
    for name in ("shard-000000.tar", "shard-000001.tar", "shard-000002.tar", "samples.parquet"):
        assert (killed / name).read_bytes() == (clean / name).read_bytes(), name
    assert read_index(killed)["shards"] == read_index(clean)["shards"]
    assert export_dataset(tree, killed, wds(max_samples=3), progress=False).n_kept == 3  # finished: nothing to do


def test_a_corrupt_shard_is_named(tree, tmp_path):
    out = tmp_path / "wds"
    export_dataset(tree, out, wds(max_samples=4, shuffle=False), progress=False)
    reader = ShardReader(out)
    key = reader.keys[5]  # in shard-000001.tar
    offset = int(reader.table["offset"][5].as_py())
    with open(out / "shard-000001.tar", "r+b") as handle:
        handle.seek(offset + 512 + 100)  # inside the sample's JPEG bytes
        byte = handle.read(1)
        handle.seek(offset + 512 + 100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(FormatError, match=r"shard-000001\.tar.*rgb\.jpg.*corrupt"):
        ShardReader(out).read(key)
    result = CliRunner().invoke(main, ["export", "verify", str(out)])
    assert result.exit_code == 1 and "shard-000001.tar" in result.output and "1 problems" in result.output
    os.truncate(out / "shard-000001.tar", offset + 600)
    with pytest.raises(FormatError, match=r"shard-000001\.tar: expected .* bytes of sample .*truncated"):
        ShardReader(out).read(key)


def test_a_bad_frame_fails_alone_and_is_recorded(tree, tmp_path):
    # a copy of the tree where one label file no longer matches its manifest hash and one frame lacks its JPEG
    edited, rows = tmp_path / "edited", manifest_rows(tree)
    shutil.copytree(tree, edited)
    ob = edited / rows[2]["ob_path"]
    pixels = read_png(ob, what="ob", dtype=np.uint8).copy()
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(ob)
    (edited / rows[5]["rgb_path"]).unlink()
    runner = CliRunner()
    for kind in ("webdataset", "hf"):
        out = tmp_path / kind
        result = runner.invoke(main, ["export", kind, str(edited), "--out", str(out), "--max-samples", "4"])
        assert result.exit_code == 1, result.output
        assert "6 samples" in result.output and "2 failed" in result.output
        failed = {f["key"]: f["error"] for f in read_index(out)["failed"]}
        assert set(failed) == {key_of(rows[2]), key_of(rows[5])}
        assert "ob does not match the manifest's ob_hash" in failed[key_of(rows[2])]
        assert rows[5]["rgb_path"] in failed[key_of(rows[5])]
        assert runner.invoke(main, ["export", "verify", str(out)]).exit_code == 0


def test_other_settings_or_foreign_files_are_refused(tree, tmp_path):
    out = tmp_path / "wds"
    export_dataset(tree, out, wds(seed=1), progress=False)
    with pytest.raises(FormatError, match=r"\.export/settings\.json.*same settings"):
        export_dataset(tree, out, wds(seed=2), progress=False)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(FormatError, match="empty folder"):
        export_dataset(tree, tmp_path / "foreign", wds(), progress=False)
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"


def test_cli_exports_a_split_and_verifies(tree, tmp_path):
    out = tmp_path / "train"
    runner = CliRunner()
    result = runner.invoke(main, ["export", "webdataset", str(tree), "--out", str(out), "--split", "train",
                                  "--no-shuffle", "--max-mb", "1"])
    assert result.exit_code == 0, result.output
    assert "4 samples in 1 shards" in result.output and "0 failed" in result.output
    assert {r["split"] for r in ShardReader(out).manifest_rows()} == {"train"}
    result = runner.invoke(main, ["export", "verify", str(out)])
    assert result.exit_code == 0 and "4 samples, 1 parts, 0 problems" in result.output


def test_a_second_export_into_one_folder_is_refused_naming_the_first(tree, tmp_path):
    from obtoolkit.treelock import TreeLockedError, lock_tree

    out = tmp_path / "shards"
    with lock_tree(out, command="obh export (the first)"), pytest.raises(TreeLockedError, match="the first"):
        export_dataset(tree, out, wds(max_samples=3), progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".obh.lock"]
    summary = export_dataset(tree, out, wds(max_samples=3), progress=False)  # the lock file is not "other files"
    assert summary.n_kept == 0 and (out / "index.json").is_file()
