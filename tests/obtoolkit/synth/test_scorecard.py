"""The per-family score table: each mode scored against the mesh references, in memory."""

from __future__ import annotations

import numpy as np
import pytest

from obtoolkit._open3d import open3d_available
from obtoolkit.boundaries import LabelParams
from obtoolkit.hypersim import HypersimLayout, iter_frames, read_camera_parameters, read_frame_geometry
from obtoolkit.synth import read_reference
from obtoolkit.synth.agreement import Agreement

pytestmark = pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) is not installed")


def test_scores_in_memory_equal_scores_from_the_written_files(tmp_path):
    """The scorecard renders in memory what `make_synthetic_dataset` writes: same frame records, same scores."""
    from obtoolkit.boundaries import compute_labels
    from obtoolkit.synth.cameras import ALL_CAMERA_MODELS
    from obtoolkit.synth.generate import make_synthetic_dataset
    from obtoolkit.synth.scorecard import score_family

    params = LabelParams()
    score = score_family("flush", scenes=2, frames=1, seed=4, height=48, width=64, modes=("default",))
    make_synthetic_dataset(tmp_path, scenes=2, frames=1, seed=4, height=48, width=64, cameras=1,
                           camera_models=ALL_CAMERA_MODELS, families=("flush",))
    layout, files = HypersimLayout(tmp_path), Agreement()
    cameras = read_camera_parameters(layout.camera_parameters_csv)
    for frame in iter_frames(tmp_path):
        geometry = read_frame_geometry(layout, frame, camera=cameras.camera(frame.scene))
        labels = compute_labels(geometry, params)
        files.update(labels.order, labels.ob, labels.theta, read_reference(tmp_path, frame),
                     np.where(geometry.valid_mask, geometry.distance_m, np.nan), params.tie_eps_rel,
                     include_void=False)
    assert score.frames == 2
    assert score.modes["default"] == files


def test_table_has_every_mode_and_figure():
    from obtoolkit.synth.scorecard import FIGURES, MODES, markdown_table, score_family, score_table

    table = score_table([score_family("thin_parts", scenes=1, frames=1, height=48, width=64)])
    assert list(table["mode"]) == list(MODES)
    assert ((table[list(FIGURES)] >= 0) & (table[list(FIGURES)] <= 1)).all().all()
    text = markdown_table(table)
    assert text.count("\n") == len(MODES) + 1 and "thin_parts" in text
    with pytest.raises(ValueError, match="modes"):
        score_family("flush", scenes=1, frames=1, height=24, width=32, modes=("nope",))
