"""Bad input at the CLI and in the readers: out-of-range options, malformed overrides, maps of the wrong or of a
hostile size, manifests pointing outside their root, unreadable labels in `viz`, colliding picture names.
Each test names the finding of issue 16 it keeps fixed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from obhypersim_build.run import generate
from obtoolkit.errors import FormatError
from obtoolkit.hypersim import FrameId
from obtoolkit.labels_io import product_relpath
from obtoolkit.manifest import FrameRecord, read_manifest, records_to_table, write_table

from .faults import assert_one_clear_line, corrupt, invoke, png_claiming

CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens: a download that got past its options would fail at once




# Finding 10 and the smaller one of download: --jobs 0 gave a traceback; download took 0 or negative silently.
# (-1 means every usable core everywhere: tests/obh/test_options.py.)
@pytest.mark.parametrize("args", [
    ["generate", "{root}", "{root}/out", "-j", "0"],
    ["generate", "{root}", "{root}/out", "--jobs", "-2"],
    ["validate", "{root}", "-j", "0"],
    ["viz", "{root}", "-j", "0"],
    ["viz", "{root}", "--limit", "-3"],
    ["manifest", "index", "{root}", "-j", "0"],
    ["download", "{root}/dl", "--scenes", "ai_001_001", "-j", "0"],
    ["download", "{root}/dl", "--scenes", "ai_001_001", "-j", "-2"],
    ["download", "{root}/dl", "--scenes", "ai_001_001", "--retries", "-1"],
    ["download", "{root}/dl", "--scenes", "ai_001_001", "--timeout", "0"],
], ids=lambda args: " ".join(a for a in args if "{root}" not in a))
def test_out_of_range_numbers_are_usage_errors(tmp_path, args):
    extra = ["--base-url", CLOSED_PORT, "--metadata-url", CLOSED_PORT] if args[0] == "download" else []
    result = invoke(*[a.format(root=tmp_path) for a in args], *extra)
    assert result.exit_code == 2 and "Invalid value" in result.output, result.output


# Finding 10: a malformed override (`schedule.batch_size=[1`) gave a YAML traceback.
@pytest.mark.parametrize("override", ["labels.tau_rel=[1", "labels.tau_rel={a", "labels.tau_rel=\"x"])
def test_a_malformed_override_is_one_line_naming_it(tmp_path, override):
    result = invoke("generate", tmp_path, tmp_path / "out", "--set", override)
    assert_one_clear_line(result, f"override {override!r}", "expected a YAML value")


def write_maps(folder, names, shape_hw=(16, 16), seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray((rng.random(shape_hw) * 255).astype(np.uint8)).save(folder / f"{name}.png")


# Finding 10: a prediction whose size differs from its ground truth gave a ValueError traceback.
def test_a_size_mismatch_in_evaluate_maps_is_one_line_naming_both_files(tmp_path):
    write_maps(tmp_path / "pred", ["a"], (16, 16))
    write_maps(tmp_path / "gt", ["a"], (16, 20))
    result = invoke("evaluate-maps", tmp_path / "pred", tmp_path / "gt", "--out", tmp_path / "eval")
    assert_one_clear_line(result, str(tmp_path / "pred" / "a.png"), str(tmp_path / "gt" / "a.png"), "20x16")


# Finding 6: a 1 KB PNG claiming 100000x100000 pixels ended in an uncaught DecompressionBombError; an 86 KB PNG of
# 10000x8900 took 6 GB.
@pytest.mark.parametrize("width, height", [(100_000, 100_000), (10_000, 8_900)])
def test_a_map_claiming_too_many_pixels_is_refused_naming_it(tmp_path, width, height):
    write_maps(tmp_path / "gt", ["a"])
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "a.png").write_bytes(png_claiming(width, height))
    result = invoke("evaluate-maps", tmp_path / "pred", tmp_path / "gt", "--out", tmp_path / "eval")
    assert_one_clear_line(result, str(tmp_path / "pred" / "a.png"), "pixels", "--max-pixels")


def test_the_map_size_limit_can_be_lowered_and_raised(tmp_path):
    write_maps(tmp_path / "gt", ["a"], (64, 64))
    write_maps(tmp_path / "pred", ["a"], (64, 64), seed=1)
    args = ["evaluate-maps", tmp_path / "pred", tmp_path / "gt", "--out", tmp_path / "eval", "--thresholds", "3"]
    assert_one_clear_line(invoke(*args, "--max-pixels", "1000"), "at most 1000 pixels", "64x64 = 4096 pixels")
    assert invoke(*args, "--max-pixels", "4096").exit_code == 0


# Smaller: report picture names collided for "a b" and "a_b".
def test_report_pictures_of_names_differing_only_in_punctuation_stay_apart(tmp_path):
    write_maps(tmp_path / "gt", ["a b", "a_b"])
    write_maps(tmp_path / "pred", ["a b", "a_b"], seed=1)
    result = invoke("evaluate-maps", tmp_path / "pred", tmp_path / "gt", "--out", tmp_path / "eval",
                    "--thresholds", "3")
    assert result.exit_code == 0, result.output
    pictures = sorted(p.name for p in (tmp_path / "eval" / "report_images").iterdir())
    assert len(pictures) == 2 * 3, pictures  # prediction, ground truth and matches of each image
    html = (tmp_path / "eval" / "report.html").read_text()
    assert all(name in html for name in pictures)


# Finding 8: manifest paths that are absolute or contain `..` were opened as given.
@pytest.mark.parametrize("bad", ["/etc/passwd", "../../outside.png", "hypersim/../../x.png", "C:/x.png"])
def test_manifest_paths_that_leave_the_root_are_refused_naming_the_row(tmp_path, bad):
    records = [FrameRecord.from_dict({"scene": "ai_001_001", "camera": "cam_00", "frame": 0,
                                      "rgb_path": "hypersim/ai_001_001/cam_00/tonemap/0000.jpg"}),
               FrameRecord.from_dict({"scene": "ai_001_001", "camera": "cam_00", "frame": 1, "ob_path": bad})]
    path = tmp_path / "manifest.parquet"
    write_table(path, records_to_table(records))
    with pytest.raises(FormatError, match=r"ob_path .* in row 1 \(ai_001_001/cam_00/1\)"):
        read_manifest(path)
    assert_one_clear_line(invoke("manifest", "show", path), "ob_path", repr(bad))


# Finding 9: `obh viz` stopped at the first bad label PNG.
def test_viz_records_and_skips_a_frame_whose_labels_do_not_read(hypersim, tmp_path):
    out = tmp_path / "out"
    generate(hypersim, out, progress=False)
    bad = out / product_relpath(FrameId("ai_001_001", "cam_00", 0), "ob")
    corrupt(bad, "random")
    result = invoke("viz", out, "--out", tmp_path / "pictures")
    assert_one_clear_line(result, "5 pictures", "1 frames failed", str(bad))
    assert len(list((tmp_path / "pictures").rglob("*.png"))) == 5
