"""The evaluation driver against a plain frame-by-frame loop (the previous `evaluate_model`), and its parts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from obtoolkit.metrics import DEPTH_PRESETS, BoundaryEvalOptions, BoundaryEvaluator, DepthEvaluator
from training.data import DataConfig, ObHypersimDataset
from training.evaluate import EvalOptions, collate_by_size, evaluate_model, write_evaluation
from training.inference import copy_to_host, fuse_flipped_depth, one_behind
from training.models import build_modot
from training.scoring import BoundaryBenchmark, DepthBenchmark, Evaluators, MetricPool

from .test_train import dataset  # noqa: F401  (the module-scoped dataset fixture)

BOUNDARY = BoundaryEvalOptions(n_thresholds=19)


def reference_evaluation(model, frames, *, flip_tta: bool, depth_unit_m: float) -> tuple[dict, list, list]:
    """The loop `evaluate_model` ran before it was rebuilt for throughput: one frame at a time, in this process."""
    boundary, depth = BoundaryEvaluator(BOUNDARY), DepthEvaluator(DEPTH_PRESETS["hypersim"])
    model.eval()
    for position in range(len(frames)):
        sample, record = frames[position], frames.records[position]
        name = f"{record.scene}/{record.camera}/{record.frame:04d}"
        with torch.no_grad():
            out = model(sample.image[None])
            pred_depth, probability = out.depth, torch.sigmoid(out.boundary_logits[-1])
            if flip_tta:
                flipped = model(torch.flip(sample.image[None], dims=[-1]))
                pred_depth = fuse_flipped_depth(pred_depth, torch.flip(flipped.depth, dims=[-1]))
                probability = 0.5 * (probability + torch.sigmoid(torch.flip(flipped.boundary_logits[-1], dims=[-1])))
        boundary.process(name, probability[0, 0].numpy(), sample.boundary[0].numpy() > 0.5)
        depth.process(name, pred_depth[0, 0].numpy(), sample.depth[0].numpy(), valid_mask=sample.valid[0].numpy())
    result = boundary.evaluate().boundary
    summary = {f"depth/{k}": float(v) for k, v in depth.evaluate().items()}
    summary["depth/rmse_m"] = summary["depth/rmse"] * depth_unit_m
    summary.update({"boundary/ods_f": result.ods.f_measure, "boundary/ois_f": result.ois_f,
                    "boundary/ap": result.ap, "boundary/r50": result.r50})
    return summary, boundary.evaluate().per_image, depth.rows


@pytest.fixture(scope="module")
def frames(dataset):  # noqa: F811
    return ObHypersimDataset(DataConfig(root=dataset, split="train", depth_scale=2.0, augment=None))


@pytest.fixture
def model(toy_variants):
    torch.manual_seed(3)
    return build_modot(toy_variants[0], max_depth=10.0)


@pytest.mark.parametrize(("flip_tta", "metric_workers", "loader_workers"), [(False, 0, 0), (True, 2, 1)])
def test_the_driver_equals_the_frame_by_frame_loop_exactly(frames, model, flip_tta, metric_workers, loader_workers):
    expected, per_image, depth_rows = reference_evaluation(model, frames, flip_tta=flip_tta, depth_unit_m=2.0)
    options = EvalOptions(flip_tta=flip_tta, boundary=BOUNDARY, metric_workers=metric_workers,
                          loader_workers=loader_workers)
    result = evaluate_model(model, frames, device=torch.device("cpu"), depth_unit_m=2.0, options=options)
    np.testing.assert_equal(result.summary(), expected)  # exactly (NaN where both are NaN)
    assert result.boundary.per_image == per_image and result.depth_rows == depth_rows
    assert result.names == [f"{r.scene}/{r.camera}/{r.frame:04d}" for r in frames.records]
    assert model.training is False  # left as it was (reference_evaluation set eval)


def test_batches_agree_with_single_frames_and_the_model_mode_is_kept(frames, model):
    single = evaluate_model(model, frames, device=torch.device("cpu"), depth_unit_m=2.0,
                            options=EvalOptions(boundary=BOUNDARY))
    model.train()
    batched = evaluate_model(model, frames, device=torch.device("cpu"), depth_unit_m=2.0,
                             options=EvalOptions(boundary=BOUNDARY, batch_size=2, max_frames=3, pictures=2))
    assert model.training is True and len(batched.names) == 3 and len(batched.pictures) == 2
    for row_single, row_batched in zip(single.depth_rows, batched.depth_rows, strict=False):
        for key in ("abs_rel", "rmse", "delta1"):
            assert row_batched[key] == pytest.approx(row_single[key], rel=1e-5)


def test_reports_include_a_predictions_picture(frames, model, tmp_path):
    result = evaluate_model(model, frames, device=torch.device("cpu"), depth_unit_m=2.0,
                            options=EvalOptions(boundary=BOUNDARY, max_frames=2))
    written = write_evaluation(result, tmp_path, extra={"note": "x"})
    assert [p.name for p in written] == ["metrics.json", "per_image.csv", "per_image_depth.json", "pr_curve.png",
                                         "predictions.png"]
    assert all(p.is_file() for p in written)


def test_combined_evaluators_refuse_a_key_given_twice():
    depth = DepthBenchmark(DEPTH_PRESETS["hypersim"], 1.0)
    evaluators = Evaluators([BoundaryBenchmark(BOUNDARY), depth, DepthBenchmark(DEPTH_PRESETS["nyudmt"], 1.0)])
    with pytest.raises(ValueError, match="depth/n_images.*DepthBenchmark and DepthBenchmark"):
        evaluators.results()


def test_collate_groups_frames_by_size():
    from training.predict import ImageSample

    def sample(name, h, w):
        return ImageSample(name, torch.zeros(3, h, w), torch.zeros(h, w, 3, dtype=torch.uint8))

    groups = collate_by_size([sample("a", 4, 6), sample("b", 4, 6), sample("c", 5, 6), sample("d", 4, 6)])
    assert [list(g.name) for g in groups] == [["a", "b"], ["c"], ["d"]] and groups[0].image.shape == (2, 3, 4, 6)


def test_one_behind_starts_the_next_item_before_handing_on():
    events = []

    def start(item):
        events.append(f"start {item}")
        return item * 10

    for item, started in one_behind(range(3), start):
        events.append(f"use {item}:{started}")
    assert events == ["start 0", "start 1", "use 0:0", "start 2", "use 1:10", "use 2:20"]
    assert list(one_behind([], start)) == []


def test_host_copies_are_copies():
    device_tensor = torch.arange(6.0).reshape(2, 3)
    copy = copy_to_host(device_tensor, device_tensor * 2)
    (a, b), = [copy.wait()]
    device_tensor += 1  # the device buffer is reused by the next batch
    assert torch.equal(a, torch.arange(6.0).reshape(2, 3)) and torch.equal(b, 2 * torch.arange(6.0).reshape(2, 3))
    assert copy.ready is None  # a CUDA event only on CUDA


def test_metric_pool_runs_jobs_in_processes_and_stops():
    with MetricPool(2) as pool:
        results = [pool.submit(np.square, np.arange(3) + k) for k in range(4)]
        assert [r.get(timeout=60).tolist() for r in results] == [[k * k, (k + 1) ** 2, (k + 2) ** 2] for k in range(4)]
        pool.terminate()
        assert pool.submit(np.negative, 1).get(timeout=60) == -1  # restarts after terminate
    assert MetricPool(0).submit(np.negative, 2).get() == -2
    with pytest.raises(ValueError, match=">= 0"):
        MetricPool(-1)
