from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from obh.cli import main
from obhypersim_build.run import generate
from obhypersim_build.splits import SplitFilters, export_splits
from obtoolkit.errors import FormatError


def test_hypersim_v1_preset_counts(shared_fixtures, tmp_path):
    csv = shared_fixtures / "hypersim/metadata_images_split_scene_v1.csv"
    result = CliRunner().invoke(main, ["export-splits", str(tmp_path), "--preset", "hypersim-v1", "--split-csv",
                                       str(csv)])
    assert result.exit_code == 0, result.output
    counts = {s: len((tmp_path / f"{s}.txt").read_text().splitlines()) for s in ("train", "val", "test")}
    assert counts == {"train": 59_543, "val": 7_386, "test": 7_690}
    assert (tmp_path / "train.txt").read_text().splitlines()[0] == "hypersim/ai_001_001/cam_00/tonemap/0000"
    table = pq.read_table(tmp_path / "splits.parquet")
    assert table.num_rows == 74_619
    metadata = json.loads(table.schema.metadata[b"ob_hypersim.splits"])
    assert metadata["preset"] == "hypersim-v1" and metadata["counts"]["val"] == 7_386


def test_modot_preset_reproduces_the_lists(shared_fixtures, tmp_path):
    lists = shared_fixtures / "modot_splits"
    counts = export_splits(tmp_path, "modot", modot_lists=str(lists))
    assert counts == {"train": 27_536, "test": 3_311}
    for split in ("train", "test"):
        original = sorted((lists / f"hypersim_filtered_{split}.txt").read_text().split())
        assert (tmp_path / f"{split}.txt").read_text().splitlines() == original


def test_bad_list_line_names_the_file(tmp_path):
    (tmp_path / "hypersim_filtered_train.txt").write_text("hypersim/ai_001_001/cam_00/tonemap/0000\nnonsense\n")
    (tmp_path / "hypersim_filtered_test.txt").write_text("")
    with pytest.raises(FormatError, match="line 2"):
        export_splits(tmp_path / "out", "modot", modot_lists=str(tmp_path))


def test_manifest_filters_are_applied_and_recorded(layered_tree, tmp_path):
    generate(layered_tree, tmp_path / "out", progress=False)
    split_csv = layered_tree / "metadata_images_split_scene_v1.csv"
    counts = export_splits(tmp_path / "all", "hypersim-v1", split_csv=split_csv)
    assert counts == {"test": 3, "train": 3}
    filters = SplitFilters(min_ob_fraction=0.07)  # the layered frames have 6.25 % boundary pixels
    counts = export_splits(tmp_path / "filtered", "hypersim-v1", split_csv=split_csv,
                           manifest=tmp_path / "out/manifest.parquet", filters=filters)
    assert counts == {}
    recorded = json.loads((tmp_path / "filtered/splits.json").read_text())
    assert recorded["filters"]["min_ob_fraction"] == 0.07 and recorded["dropped"] == 6
    with pytest.raises(ValueError, match="--manifest"):
        export_splits(tmp_path / "x", "hypersim-v1", split_csv=split_csv, filters=filters)


def test_a_manifest_alone_drops_failed_frames_and_counts_them(layered_tree, tmp_path):
    bad = layered_tree / "ai_001_002/images/scene_cam_00_geometry_hdf5/frame.0001.depth_meters.hdf5"
    bad.write_bytes(bad.read_bytes()[:100])
    generate(layered_tree, tmp_path / "out", progress=False)
    split_csv = layered_tree / "metadata_images_split_scene_v1.csv"
    counts = export_splits(tmp_path / "ok", "hypersim-v1", split_csv=split_csv,
                           manifest=tmp_path / "out/manifest.parquet")
    assert sum(counts.values()) == 5
    assert "hypersim/ai_001_002/cam_00/tonemap/0001" not in (tmp_path / "ok/test.txt").read_text() + \
        (tmp_path / "ok/train.txt").read_text()
    assert json.loads((tmp_path / "ok/splits.json").read_text())["dropped"] == 1


def test_manifest_index_of_a_modot_layout_folder(layered_tree, tmp_path):
    out = tmp_path / "out"
    generate(layered_tree, out, progress=False)
    for extra in ("ori16", "order", "ob_class", "stats"):  # the authors' release has none of these
        for path in out.glob(f"hypersim/*/*/{extra}/*"):
            path.unlink()
    (out / "hypersim/ai_001_002/cam_00/ob/0002.png").unlink()
    result = CliRunner().invoke(main, ["manifest", "index", str(out), "--out", str(tmp_path / "index.parquet")])
    assert result.exit_code == 0, result.output
    from obtoolkit.manifest import read_manifest, table_to_records

    rows = {(r.scene, r.frame): r for r in table_to_records(read_manifest(tmp_path / "index.parquet"))}
    assert len(rows) == 6
    good, bad = rows[("ai_001_001", 0)], rows[("ai_001_002", 2)]
    assert good.status == "ok" and good.ob_fraction == pytest.approx(0.0625) and good.order_path is None
    assert bad.status == "error" and "ob/0002.png" in bad.error
    shown = CliRunner().invoke(main, ["manifest", "show", str(tmp_path / "index.parquet"), "--status", "error"])
    assert "1 rows" in shown.output
