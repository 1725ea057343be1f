"""index -> train -> evaluate on every dataset format, from the CLI, on tiny synthetic trees in each real layout
(`obtoolkit.datasets.synthetic`), with the shipped configs and a toy network; and the ablation configs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from obh.cli import main
from obtoolkit.datasets.manifest import index_dataset
from obtoolkit.datasets.synthetic import write_malformed_tree, write_synthetic_tree
from obtoolkit.treelock import lock_tree
from training.models import registry, swin
from training.models.registry import ModotVariant

from ..conftest import REPO_ROOT
from .conftest import TOY_DECODER, TOY_SWIN

CONFIGS = REPO_ROOT / "configs"
# a 1-step run of a shipped config, small enough for the CPU: the toy network, no loader processes, no background
# benchmark, no TensorBoard; the recipe's batch, crops and losses otherwise
QUICK = ["data.num_workers=0", "schedule.max_steps=1", "schedule.batch_size=2", "schedule.val_every=1",
         "schedule.checkpoint_every=1", "validation.frames=1", "validation.batch_size=1", "validation.num_workers=0",
         "validation.exact=never", "validation.pictures=1", "runtime.amp=none", "runtime.progress=false",
         "runtime.tensorboard=false", "runtime.threads=1"]
EVAL_QUICK = ["--workers", "0", "--metric-workers", "0", "--pictures", "1"]
STAGE1 = {"nyudmt": "nyud_mt", "ob_future": "ob_future"}


@pytest.fixture(scope="module")
def toy_registry():
    """`modot_toy` and `modot_ssr_toy` registered for the whole module (the CLI runs in this process)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(swin.SWIN_VARIANTS, "swin_toy_w7", TOY_SWIN)
        for name, ssr in (("modot_toy", False), ("modot_ssr_toy", True)):
            variant = ModotVariant(name=name, encoder="swin_toy_w7", ssr=ssr, official_encoder=None, **TOY_DECODER)
            patch.setitem(registry.MODOT_VARIANTS, name, variant)
        yield


def obh(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def train_run(config: str, root: Path, run_dir: Path, *overrides: str) -> Path:
    """`obh train --config configs/CONFIG` on `root` with the toy network for one step; the run's folder."""
    name = Path(config).stem
    obh("train", "--config", CONFIGS / config, f"data.root={root}", f"run_dir={run_dir}", f"name={name}",
        "model.variant=modot_toy", *QUICK, *overrides)
    return run_dir / name


@pytest.fixture(scope="module")
def trained(tmp_path_factory, toy_registry):
    """For NYUD-MT and OB-FUTURE: the synthetic tree, indexed with one frame held out as "val", and stage 1 trained
    with the shipped config (manifest, validation on "val")."""
    base = tmp_path_factory.mktemp("dataset_runs")
    out = {}
    for name, config in STAGE1.items():
        tree = write_synthetic_tree(name, base / name, n_frames=7, shape_hw=(40, 48))
        manifest = index_dataset(name, tree.root, tree.root / "manifest.parquet", val_frames=1, progress=False)
        run = train_run(f"{config}.yaml", tree.root, base / "runs", f"data.manifest={manifest.path}",
                        "data.crop_hw=[32,32]")
        out[name] = (tree, manifest, run)
    return out


def metrics_of(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("name", list(STAGE1))
def test_stage1_trains_validates_and_stores_its_dataset(trained, name):
    tree, manifest, run = trained[name]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    (start,) = [r for r in records if r["kind"] == "start"]
    train_ids = {row["frame_id"] for row in manifest.rows if row["split"] == "train"}
    assert start["train_frames"] == len(train_ids) == len(tree.splits["train"]) - 1  # one held out as "val"
    (val,) = [r for r in records if r["kind"] == "val"]
    assert "skipped" not in val and 0 <= val["depth/abs_rel"] < 100  # validated on the held-out frame
    payload = torch.load(run / "checkpoints" / "last.pt", weights_only=True, map_location="cpu")
    assert json.loads(payload["extra"]["config"])["data"]["format"] == name


@pytest.mark.parametrize("name", list(STAGE1))
def test_ssr_trains_on_stage1_and_evaluates_on_test_with_the_preset(trained, name, tmp_path):
    tree, manifest, stage1 = trained[name]
    ssr = train_run(f"{STAGE1[name]}_ssr.yaml", tree.root, tmp_path / "runs", f"data.manifest={manifest.path}",
                    "model.variant=modot_ssr_toy", f"model.stage1={stage1 / 'checkpoints' / 'last.pt'}")
    out = tmp_path / "eval"
    result = obh("evaluate", ssr / "checkpoints" / "last.pt", "--root", tree.root, "--out", out, *EVAL_QUICK)
    metrics = metrics_of(out)
    assert metrics["dataset"] == name and metrics["frames"] == len(tree.splits["test"])  # the run's dataset, test
    summary = metrics["summary"]
    assert metrics["scale_policies"] == ["none", "median", "lsq_scale", "lsq_scale_shift"]  # no official zero-shot
    by_policy = metrics["depth_by_policy"]  # the printed table, in metrics.json
    assert list(by_policy) == metrics["scale_policies"]
    assert by_policy["median"]["abs_rel"] == summary["depth/median/abs_rel"] and "scale" in by_policy["median"]
    for key in ("depth/abs_rel", "depth/median/abs_rel", "depth/lsq_scale_shift/rmse_m", "boundary/ods_f",
                "depth/dbe/boundary/ours_acc", "depth/dbe/boundary/official_comp", "boundary/f@0.7",
                "boundary_pixel/f1@0.5"):
        assert key in summary, key
    assert metrics["boundary_options"]["max_dist"] == 0.0075
    assert metrics["boundary_options"]["apply_nms"] is (False if name == "ob_future" else None)
    if name == "nyudmt":  # NYUD's edge radius 0.011 beside the preset's 0.0075: as a run at --max-dist 0.011
        assert metrics["extra_max_dists"] == [0.011]
        obh("evaluate", ssr / "checkpoints" / "last.pt", "--root", tree.root, "--out", tmp_path / "wide",
            "--max-dist", "0.011", *EVAL_QUICK)
        wide = metrics_of(tmp_path / "wide")["summary"]
        assert not [k for k in wide if k.startswith("boundary@")]  # --max-dist replaces the preset's radii
        assert {k: summary[f"boundary@0.011/{k}"] for k in ("ods_f", "ap", "f@0.7")} == \
            {k: wide[f"boundary/{k}"] for k in ("ods_f", "ap", "f@0.7")}
    else:
        assert not [k for k in summary if k.startswith("boundary@")]
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("policy"))
    assert [line.split()[0] for line in lines[header + 1: header + 5]] == metrics["scale_policies"]


ZERO_SHOT = {  # dataset: (scored keys, keys that must be absent)
    "ibims": (("depth/official/abs_rel", "depth/dbe/depth_edges/official_acc", "depth/dbe/boundary/ours_comp",
               "boundary/ods_f", "boundary/f@0.5", "boundary_pixel/precision@0.7"), ()),
    "diode": (("depth/official/abs_rel", "depth/lsq_scale/scale"), ("boundary/ods_f",)),
    "ob_diode": (("boundary/ods_f", "boundary/recall@0.5"), ("depth/abs_rel",)),
    "ob_entityseg": (("boundary/ods_f", "boundary_pixel/f1@0.5"), ("depth/abs_rel",)),
}


@pytest.mark.parametrize("name", list(ZERO_SHOT))
def test_zero_shot_evaluation_of_a_nyud_checkpoint(trained, name, tmp_path):
    checkpoint = trained["nyudmt"][2] / "checkpoints" / "last.pt"
    tree = write_synthetic_tree(name, tmp_path / name, n_frames=2, shape_hw=(40, 48))
    split = next(iter(tree.splits))
    out = tmp_path / "eval"
    result = obh("evaluate", checkpoint, "--dataset", name, "--root", tree.root, "--split", split, "--out", out,
                 *EVAL_QUICK)
    metrics = metrics_of(out)
    present, absent = ZERO_SHOT[name]
    assert metrics["dataset"] == name and metrics["frames"] == len(tree.splits[split])
    assert all(key in metrics["summary"] for key in present), sorted(metrics["summary"])
    assert not any(key in metrics["summary"] for key in absent)
    if "depth/abs_rel" in present or "depth/official/abs_rel" in present:
        # the official factor: the network rebuilt with the zero-shot max_depth (10 m -> 52 or 350 m), times 3.7
        factor = {"ibims": 52.0, "diode": 350.0}[name] * 3.7 / 10.0
        assert metrics["official_factor"] == pytest.approx(factor)
        assert metrics["summary"]["depth/official/scale"] == pytest.approx(factor)
        assert "official" in result.output
    assert_report(out, depth="depth/abs_rel" in present or "depth/official/abs_rel" in present,
                  boundary="boundary/ods_f" in present)
    assert f"open {out / 'report' / 'index.html'}" in result.output


def assert_report(out: Path, *, depth: bool, boundary: bool) -> None:
    """out/report/index.html exists and its per-frame table has the depth and / or boundary columns."""
    page = (out / "report" / "index.html").read_text()
    headers = re.findall(r"onclick='sortBy\(this\)'>([^<]+)<", page)
    assert headers == ["frame", *(["F", "R", "P", "threshold", "GT px"] if boundary else []),
                       *(["AbsRel", "RMSE", "&delta;1"] if depth else [])]
    assert ("pr_curve.png" in page) is boundary


def test_errors_are_one_line_naming_the_file(tmp_path, toy_registry):
    missing = obh("train", "--config", CONFIGS / "nyud_mt.yaml", f"data.root={tmp_path / 'nowhere'}",
                  "data.manifest=null", "model.variant=modot_toy", *QUICK, ok=False)
    assert missing.exit_code == 1 and "nowhere" in missing.output and "NYUD-MT" in missing.output
    assert "Traceback" not in missing.output
    tree, broken = write_malformed_tree("ob_future", tmp_path / "split", "missing_split")
    result = obh("train", "--config", CONFIGS / "ob_future.yaml", f"data.root={tree.root}", "data.manifest=null",
                 "model.variant=modot_toy", *QUICK, ok=False)
    assert result.exit_code == 1 and broken.name in result.output and len(result.output.strip().splitlines()) == 1
    tree, broken = write_malformed_tree("nyudmt", tmp_path / "npy", "pickled_npy")
    for workers in ("0", "1"):  # in this process, and re-raised from a DataLoader worker
        result = obh("train", "--config", CONFIGS / "nyud_mt.yaml", f"data.root={tree.root}", "data.manifest=null",
                     "model.variant=modot_toy", *QUICK, "schedule.batch_size=3", f"data.num_workers={workers}",
                     f"run_dir={tmp_path / workers}", "data.train_split=all", ok=False)
        assert result.exit_code == 1 and str(broken) in result.output, result.output
        assert "Traceback" not in result.output and "Caught" not in result.output
    small = obh("train", "--config", CONFIGS / "nyud_mt.yaml", f"data.root={tree.root}", "data.manifest=null",
                "model.variant=modot_toy", *QUICK, "schedule.batch_size=8", ok=False)
    assert small.exit_code == 1 and "schedule.batch_size 8" in small.output
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong = obh("evaluate", tmp_path / "npy" / "NYUDv2" / "images" / "0001.png", "--dataset", "ibims", "--root",
                empty, "--out", tmp_path / "e", ok=False)
    assert wrong.exit_code == 1 and "Traceback" not in wrong.output
    unknown = obh("evaluate", broken, "--dataset", "kitti", "--root", empty, "--out", tmp_path / "e", ok=False)
    assert unknown.exit_code == 2 and "kitti" in unknown.output
    unknown = obh("train", "--config", CONFIGS / "nyud_mt.yaml", "data.format=kitti", *QUICK, ok=False)
    assert unknown.exit_code == 1 and "'kitti'; known: ob_hypersim, " in unknown.output


def test_an_unknown_split_is_one_line(trained, tmp_path):
    tree, _, run = trained["nyudmt"]
    result = obh("evaluate", run / "checkpoints" / "last.pt", "--root", tree.root, "--split", "indoor", "--out",
                 tmp_path, ok=False)
    assert result.exit_code == 1 and "unknown split 'indoor'" in result.output and "Traceback" not in result.output


def test_a_second_evaluation_into_one_folder_is_refused_naming_the_first(trained, tmp_path):
    tree, _, run = trained["nyudmt"]
    with lock_tree(tmp_path / "eval", command="obh evaluate first.pt --out eval"):
        result = obh("evaluate", run / "checkpoints" / "last.pt", "--root", tree.root, "--out", tmp_path / "eval",
                     *EVAL_QUICK, ok=False)
    assert result.exit_code == 1 and "obh evaluate first.pt --out eval" in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "eval" / "metrics.json").exists()


ABLATIONS = {  # config: (model_options that must be stored, state-dict prefixes that must be absent)
    "ob_hypersim_depth_only.yaml": ({"tasks": ["depth"], "casm": False}, ("ob_decoder.", "ob_laterals.", "casms.")),
    "ob_hypersim_ob_only.yaml": ({"tasks": ["boundary"], "casm": False}, ("depth_decoders.", "ppm.", "casms.")),
    "ob_hypersim_no_casm.yaml": ({"tasks": ["depth", "boundary"], "casm": False}, ("casms.",)),
    "ob_hypersim_no_side_head_relu.yaml": ({"side_head_relu": False, "casm": True}, ()),
    "ob_hypersim_ssr_official_stage1.yaml": ({"stage1_mode": "train"}, ()),
}


def test_every_ablation_config_is_tested():
    assert {p.name for p in (CONFIGS / "ablations").glob("*.yaml")} == set(ABLATIONS)


@pytest.mark.parametrize("config", list(ABLATIONS))
def test_ablation_config_builds_and_trains_one_step(trained, config, tmp_path):
    """Each ablation of configs/ablations/ (OB-Hypersim recipes) for one step on the NYUD-MT tree: the unused paths
    are not built, the switches are stored in the checkpoint."""
    tree, _, stage1 = trained["nyudmt"]
    data = ["data.format=nyudmt", "data.manifest=null", "data.depth_scale=1.0", "model.max_depth=10.0",
            "schedule.val_every=100", "data.crop_hw=null"]
    ssr = "ssr" in config
    if ssr:
        data += ["model.variant=modot_ssr_toy", f"model.stage1={stage1 / 'checkpoints' / 'last.pt'}"]
    run = train_run(f"ablations/{config}", tree.root, tmp_path / "runs", *data)
    payload = torch.load(run / "checkpoints" / "last.pt", weights_only=True, map_location="cpu")
    stored, absent = ABLATIONS[config]
    assert {key: payload["model_options"][key] for key in stored} == stored
    assert not [name for name in payload["model"] if name.startswith(absent)]
    if config.endswith(("depth_only.yaml", "ob_only.yaml")):  # a single-task model is scored on its task only
        obh("evaluate", run / "checkpoints" / "last.pt", "--root", tree.root, "--out", tmp_path / "eval", *EVAL_QUICK)
        summary = metrics_of(tmp_path / "eval")["summary"]
        scored = {key.split("/")[0] for key in summary}
        boundary = {"boundary", "boundary@0.011", "boundary_pixel"}  # NYUD-MT: a second radius
        assert scored == ({"depth"} if stored["tasks"] == ["depth"] else boundary)
        assert_report(tmp_path / "eval", depth="depth" in stored["tasks"], boundary="boundary" in stored["tasks"])
    if ssr:  # stage 1 frozen but in train mode: its BatchNorm statistics moved during the step (eval mode: never)
        before = torch.load(stage1 / "checkpoints" / "last.pt", weights_only=True, map_location="cpu")["model"]
        moved = [k for k, v in before.items() if k.endswith("running_mean")
                 and not torch.equal(v, payload["model"][f"stage1.{k}"])]
        assert moved
        assert all(torch.equal(v, payload["model"][f"stage1.{k}"]) for k, v in before.items()
                   if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
