"""The evaluation driver on other dataset formats, against values computed by hand: a model that predicts one
constant depth and one constant boundary probability everywhere, so that every scale policy and the pixel-wise
fixed-threshold numbers have closed forms in the synthetic tree's ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from obtoolkit.datasets import eval_preset
from obtoolkit.datasets.synthetic import write_synthetic_tree
from training.evaluate import evaluate_model, preset_options
from training.format_data import FormatDataConfig, FormatDataset
from training.models.modot import ModotOutput


class ConstantModel(nn.Module):
    """Depth `depth` (network units) and boundary probability `probability` at every pixel."""

    tasks = ("depth", "boundary")

    def __init__(self, depth: float, probability: float):
        super().__init__()
        self.depth, self.logit = depth, float(np.log(probability / (1 - probability)))

    def forward(self, images: torch.Tensor) -> ModotOutput:
        shape = (images.shape[0], 1, *images.shape[2:])
        return ModotOutput(torch.full(shape, self.depth), [torch.full(shape, self.logit)])


def evaluate(name: str, tree, model: ConstantModel, *, depth_scale: float, checkpoint_max_depth: float) -> dict:
    dataset = FormatDataset(FormatDataConfig(format=name, root=tree.root, split="test", depth_scale=depth_scale,
                                             augment=None))
    options = preset_options(eval_preset(name), checkpoint_max_depth=checkpoint_max_depth,
                             checkpoint_unit_m=depth_scale, pictures=0)
    return evaluate_model(model, dataset, device=torch.device("cpu"), depth_unit_m=depth_scale,
                          options=options).metrics


def gt_depths(tree, valid_max: float = np.inf) -> list[np.ndarray]:
    """Each test frame's valid GT depth in metres (the dataset's mask, finite, in the preset's open range)."""
    out = []
    for frame_id in tree.splits["test"]:
        truth = tree.truth[frame_id]
        depth = truth.depth_m[truth.depth_valid & np.isfinite(truth.depth_m)]
        out.append(depth[(depth > 0) & (depth < valid_max)])
    return out


def abs_rel(prediction_m, gt_m) -> float:
    return float(np.mean(np.abs(prediction_m - gt_m) / gt_m))


def test_ibims_every_scale_policy_by_hand(tmp_path):
    """A metre checkpoint (max_depth 10) predicting 2 m on iBims-1: "official" is 2 x 52 x 3.7 / 10 = 38.48 m (inside
    the clamp [1e-3, 52]); median alignment predicts each frame's GT median; least squares its mean (the GT is
    float32: equal to 1e-6)."""
    tree = write_synthetic_tree("ibims", tmp_path, n_frames=3, shape_hw=(24, 32))
    metrics = evaluate("ibims", tree, ConstantModel(2.0, 0.6), depth_scale=1.0, checkpoint_max_depth=10.0)
    gts = gt_depths(tree)
    assert metrics["depth/abs_rel"] == pytest.approx(np.mean([abs_rel(2.0, g) for g in gts]), rel=1e-6)
    assert metrics["depth/rmse"] == pytest.approx(np.mean([np.sqrt(np.mean((2.0 - g) ** 2)) for g in gts]), rel=1e-6)
    assert metrics["depth/official/scale"] == pytest.approx(52 * 3.7 / 10)
    assert metrics["depth/official/abs_rel"] == pytest.approx(np.mean([abs_rel(38.48, g) for g in gts]), rel=1e-6)
    assert metrics["depth/median/abs_rel"] == pytest.approx(np.mean([abs_rel(np.median(g), g) for g in gts]), rel=1e-6)
    assert metrics["depth/median/scale"] == pytest.approx(np.mean([np.median(g) / 2.0 for g in gts]), rel=1e-6)
    assert metrics["depth/lsq_scale/abs_rel"] == pytest.approx(np.mean([abs_rel(g.mean(), g) for g in gts]),
                                                               rel=1e-6)
    # pixel-wise fixed thresholds: p = 0.6 marks every pixel at 0.5 and none at 0.7
    fractions = [tree.truth[f].boundary.mean() for f in tree.splits["test"]]
    assert metrics["boundary_pixel/precision@0.5"] == pytest.approx(np.mean(fractions))
    assert metrics["boundary_pixel/recall@0.5"] == pytest.approx(1.0)
    assert metrics["boundary_pixel/accuracy@0.7"] == pytest.approx(1 - np.mean(fractions))
    assert metrics["boundary_pixel/recall@0.7"] == 0.0


def test_network_units_are_converted_to_the_preset_unit(tmp_path):
    """NYUD-MT is scored in metres: a checkpoint in units of 2 m predicting 1.5 units predicts 3 m."""
    tree = write_synthetic_tree("nyudmt", tmp_path, n_frames=4, shape_hw=(24, 32))
    metrics = evaluate("nyudmt", tree, ConstantModel(1.5, 0.6), depth_scale=2.0, checkpoint_max_depth=5.0)
    gts = gt_depths(tree, valid_max=10.0)
    assert metrics["depth/abs_rel"] == pytest.approx(np.mean([abs_rel(3.0, g) for g in gts]), rel=1e-6)
    assert metrics["depth/rmse_m"] == pytest.approx(np.mean([np.sqrt(np.mean((3.0 - g) ** 2)) for g in gts]),
                                                    rel=1e-6)
    assert "depth/official/abs_rel" not in metrics  # not a zero-shot dataset
