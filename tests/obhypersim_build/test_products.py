"""The product table drives writing, hashing, the manifest's columns, indexing, tree validation and export: a product
added to it (with its computation) goes through all of them; and one statistics function serves generated and
indexed manifests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import ndimage

from obhypersim_build.export import ExportSettings, plan_export
from obhypersim_build.manifest_tools import index_release
from obhypersim_build.run import generate
from obhypersim_build.validate_tree import validate_tree
from obtoolkit import products
from obtoolkit.hypersim import FrameId
from obtoolkit.labels_io import read_label_files, read_valid_mask, write_png
from obtoolkit.manifest import MANIFEST_VERSION, METADATA_VERSION_KEY, read_manifest, table_to_records
from obtoolkit.products import Product

FRAME = FrameId("ai_001_001", "cam_00", 1)


@pytest.fixture
def dummy_product(monkeypatch):
    """A thick boundary, 0/255 PNG, hashed: one entry in the table plus its computation."""
    entry = Product("ob_thick", "label", "png_bool", "png", (("ob_thick", "ob_thick", "bool"),), hashed=True,
                    compute=lambda labels: {"ob_thick": ndimage.binary_dilation(labels.ob)})
    monkeypatch.setattr(products, "PRODUCTS", products.PRODUCTS + (entry,))
    return entry


def test_an_added_product_is_written_hashed_indexed_and_validated(layered_tree, tmp_path, dummy_product):
    out = tmp_path / "out"
    generate(layered_tree, out, progress=False)  # one process: the table is extended in this one
    thick = out / "hypersim/ai_001_001/cam_00/ob_thick/0001.png"
    assert thick.is_file()
    labels = read_label_files(out, FRAME)
    np.testing.assert_array_equal(labels.ob_thick, ndimage.binary_dilation(labels.ob))
    row = next(r for r in table_to_records(read_manifest(out / "manifest.parquet")) if r.frame == 1
               and r.scene == FRAME.scene)
    assert row.ob_thick_path == "hypersim/ai_001_001/cam_00/ob_thick/0001.png"
    assert row.ob_thick_hash == labels.content_hashes()["ob_thick"]
    indexed = index_release(out, tmp_path / "indexed.parquet", progress=False)
    indexed_row = indexed[(indexed["scene"] == FRAME.scene) & (indexed["frame"] == 1)].iloc[0]
    assert indexed_row["ob_thick_path"] == row.ob_thick_path and indexed_row["ob_thick_hash"] == row.ob_thick_hash
    assert validate_tree(out, hypersim_root=layered_tree, progress=False).n_failed == 0
    plan = plan_export(out, out / "manifest.parquet", ExportSettings(kind="webdataset"), progress=False)
    assert all("ob_thick.png" in {m.name for m in s.members} for p in plan.parts for s in p.samples)
    write_png(thick, (~labels.ob_thick).astype(np.uint8) * 255)  # edited after generation
    summary = validate_tree(out, progress=False)
    failed = [r for r in summary.reports if r.failed]
    assert len(failed) == 1 and "ob_thick" in {c.name: c for c in failed[0].checks}["content_hashes"].detail


def test_generated_and_indexed_statistics_mean_the_same(layered_tree, tmp_path):
    out = tmp_path / "out"
    generate(layered_tree, out, progress=False)
    generated = read_manifest(out / "manifest.parquet").to_pandas().set_index(["scene", "frame"])
    indexed = index_release(out, tmp_path / "indexed.parquet", progress=False).set_index(["scene", "frame"])
    columns = ["invalid_fraction", "depth_nan_fraction", "ob_fraction", "ob_void_fraction", "ob_inter_fraction",
               "ob_self_fraction", "contour_fraction", "target_fraction", "undefined_orientation_fraction",
               "valid_hash", "ob_hash", "order_hash"]
    assert generated[columns].notna().all().all()
    np.testing.assert_array_equal(generated[columns].to_numpy(), indexed.loc[generated.index, columns].to_numpy())
    assert generated["depth_normal_fraction"].notna().all() and indexed["depth_normal_fraction"].isna().all()
    mask = read_valid_mask(out / "hypersim/ai_001_001/cam_00/valid/0001.png")
    assert mask.dtype == bool and 1.0 - mask.mean() == pytest.approx(generated.loc[(FRAME.scene, 1),
                                                                                   "invalid_fraction"])


def test_version_1_manifests_are_read_with_their_meaning(tmp_path):
    """Version 1's nan_fraction meant 1 - valid when generated and non-finite depth when indexed."""
    v1_columns = ["scene", "camera", "frame", "split", "public", "status", "error", "rgb_path", "depth_path",
                  "ob_path", "instance_contour_path", "ori_path", "ori16_path", "order_path", "ob_class_path",
                  "stats_path", "height", "width", "nan_fraction", "ob_fraction", "ob_void_fraction",
                  "ob_inter_fraction", "ob_self_fraction", "contour_fraction", "target_fraction",
                  "undefined_orientation_fraction", "depth_normal_fraction", "n_ties", "validation_failed",
                  "validation_warnings", "params_hash", "ob_hash", "instance_contour_hash", "ori_hash", "ori16_hash",
                  "order_hash", "relation_class_hash", "ob_class_hash", "package_version"]
    rows = [{name: None for name in v1_columns} for _ in range(2)]
    for row, frame, params in zip(rows, (0, 1), ("abc123", "external"), strict=True):
        row.update(scene="ai_001_001", camera="cam_00", frame=frame, status="ok", nan_fraction=0.25, ob_fraction=0.1,
                   ob_path=f"hypersim/ai_001_001/cam_00/ob/{frame:04d}.png", params_hash=params, ob_hash="h")
    table = pa.Table.from_pylist(rows).replace_schema_metadata({METADATA_VERSION_KEY: b"1"})
    pq.write_table(table, tmp_path / "v1.parquet")
    read = table_to_records(read_manifest(tmp_path / "v1.parquet"))
    assert (read[0].invalid_fraction, read[0].depth_nan_fraction) == (0.25, None)
    assert (read[1].invalid_fraction, read[1].depth_nan_fraction) == (None, 0.25)
    assert read[0].ob_path == "hypersim/ai_001_001/cam_00/ob/0000.png" and read[0].valid_path is None
    assert read[1].ob_hash == "h" and MANIFEST_VERSION == "2"
    pq.write_table(table.replace_schema_metadata({METADATA_VERSION_KEY: b"9"}), tmp_path / "v9.parquet")
    with pytest.raises(Exception, match="version"):
        read_manifest(tmp_path / "v9.parquet")
