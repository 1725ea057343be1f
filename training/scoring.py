"""Per-frame metric work of the evaluation driver, and the worker processes that run it.

Everything here is numpy (no torch), so that metric workers start fast and small. An evaluator has two halves: a
scorer, a picklable function of one frame's arrays that runs in a worker, and an accumulator in the main process
(`add`, then `results`):
- `BoundaryBenchmark`: the exact boundary counts -> ODS / OIS / AP / R50, and the tolerance-matched P/R/F read at
  fixed thresholds of the summed curve;
- `FixedThresholdBenchmark`: pixel-wise P/R/F1/accuracy at fixed thresholds (the official scripts' number);
- `DepthBenchmark`: the nine depth metrics under each scale policy, and the depth-boundary errors.
`Evaluators` runs several as one: one job per frame, and merged results in which no key may come from two evaluators.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from obtoolkit.metrics import (
    BoundaryCounts,
    BoundaryEvalOptions,
    BoundaryEvaluator,
    DepthEvalOptions,
    DepthMetric,
    image_boundary_counts,
)
from obtoolkit.metrics.dbe import DbeMode, depth_boundary_errors
from obtoolkit.metrics.depth import ScalePolicy, aligned_depth_errors, clamp_prediction, valid_depth_mask
from obtoolkit.metrics.evaluators import BoundaryEvaluation
from obtoolkit.metrics.fixed_threshold import FixedThresholdMetric, fixed_threshold_counts, tolerance_scores_at


@dataclass(frozen=True)
class FrameArrays:
    """One evaluated frame on the host.

    pred_depth_du, gt_depth_du: float32 (H, W) in the evaluation's depth units (GT 0 where invalid); pred_depth_du
    None for a model without depth; valid: bool (H, W) GT depth usable; probability: float32 (H, W) predicted
    boundary probability in [0, 1] (None for a model without boundaries); gt_boundary: bool (H, W);
    boundary_valid: bool (H, W) where the OB label is defined (None: everywhere); depth_edges: bool (H, W) the
    dataset's own depth edges (None: it has none).
    """

    name: str
    pred_depth_du: np.ndarray | None
    probability: np.ndarray | None
    gt_depth_du: np.ndarray
    valid: np.ndarray
    gt_boundary: np.ndarray
    boundary_valid: np.ndarray | None = None
    depth_edges: np.ndarray | None = None


class FrameEvaluator(Protocol):
    def scorer(self) -> Callable[[FrameArrays], Any]: ...
    def add(self, name: str, score: Any) -> None: ...
    def results(self) -> dict[str, float]: ...


def boundary_counts(options: BoundaryEvalOptions, name: str, probability: np.ndarray, gt_boundary: np.ndarray,
                    valid_mask: np.ndarray | None = None) -> BoundaryCounts:
    """The exact benchmark's counts of one frame at every threshold (probability float (H, W), gt_boundary bool,
    valid_mask bool where the label is defined or None)."""
    return image_boundary_counts(probability, gt_boundary, options, valid_mask=valid_mask, where=name)


def frame_boundary_counts(options: BoundaryEvalOptions, frame: FrameArrays) -> BoundaryCounts:
    return boundary_counts(options, frame.name, frame.probability, frame.gt_boundary, frame.boundary_valid)


class BoundaryBenchmark:
    """The exact ODS / OIS / AP / R50 of `obtoolkit.metrics`, as `boundary/ods_f`, `boundary/ois_f`, ..., and the
    tolerance-matched precision, recall and F of the summed counts at each of `fixed_thresholds` (`boundary/f@0.5`,
    ...; each must be one of the benchmark's thresholds: 0.5 and 0.7 are among the 99). `prefix` replaces
    "boundary" in the keys (e.g. "boundary@0.011" for a second matching radius)."""

    def __init__(self, options: BoundaryEvalOptions, fixed_thresholds: Sequence[float] = (),
                 prefix: str = "boundary"):
        self.options, self.fixed_thresholds, self.prefix = options, tuple(fixed_thresholds), prefix
        self.evaluator = BoundaryEvaluator(options)

    def scorer(self) -> Callable[[FrameArrays], BoundaryCounts]:
        return functools.partial(frame_boundary_counts, self.options)

    def add(self, name: str, score: BoundaryCounts) -> None:
        self.evaluator.add_counts(name, score)

    def evaluation(self) -> BoundaryEvaluation:
        return self.evaluator.evaluate()

    def results(self) -> dict[str, float]:
        result, prefix = self.evaluation().boundary, self.prefix
        out = {f"{prefix}/ods_f": result.ods.f_measure, f"{prefix}/ois_f": result.ois_f, f"{prefix}/ap": result.ap,
               f"{prefix}/r50": result.r50}
        for threshold, scores in tolerance_scores_at(result.curve, self.fixed_thresholds).items():
            out.update({f"{prefix}/{name}@{threshold:g}": value for name, value in scores.items()})
        return out


def frame_fixed_threshold_counts(thresholds: tuple[float, ...], frame: FrameArrays) -> np.ndarray:
    return fixed_threshold_counts(frame.probability, frame.gt_boundary, thresholds, frame.boundary_valid,
                                  where=frame.name)


class FixedThresholdBenchmark:
    """Pixel-wise precision / recall / F1 / accuracy at fixed thresholds, averaged over frames (MoDOT's
    `compute_edge_metrics`: no NMS, no tolerance), as `boundary_pixel/f1@0.7`, ..."""

    def __init__(self, thresholds: Sequence[float]):
        self.metric = FixedThresholdMetric(thresholds)

    def scorer(self) -> Callable[[FrameArrays], np.ndarray]:
        return functools.partial(frame_fixed_threshold_counts, self.metric.thresholds)

    def add(self, name: str, score: np.ndarray) -> None:
        self.metric.add_counts(score)

    def results(self) -> dict[str, float]:
        return {f"boundary_pixel/{k}": float(v) for k, v in self.metric.compute().items()}


@dataclass(frozen=True)
class DepthScoring:
    """What the depth scorer computes per frame.

    depth: the preset's validity range, clamp and crop (in the evaluation's units). policies: scale policies
    (`obtoolkit.metrics.depth.SCALE_POLICIES`), "none" first; official_factor: the "official" policy's factor.
    dbe_references: "boundary" (the OB ground truth) and / or "depth_edges" (the dataset's own); dbe_modes: "ours"
    and / or "official" (`obtoolkit.metrics.dbe`). The DBE runs on the clamped prediction of policy "none" (what
    the official script would pass) with the GT depth's valid mask.
    """

    depth: DepthEvalOptions
    policies: tuple[ScalePolicy, ...] = ("none",)
    official_factor: float | None = None
    dbe_references: tuple[str, ...] = ()
    dbe_modes: tuple[DbeMode, ...] = ("ours", "official")


def frame_depth_scores(scoring: DepthScoring, frame: FrameArrays) -> dict[str, float] | None:
    """One frame's depth numbers, flat: policy "none" as `abs_rel`, ...; another policy as `median/abs_rel`, ...
    with its fitted `median/scale` and `median/shift`; DBE as `dbe/<reference>/<mode>_acc` and `_comp`. None when
    the frame has no valid depth pixel."""
    per_policy = aligned_depth_errors(frame.pred_depth_du, frame.gt_depth_du, scoring.depth, frame.valid,
                                      policies=scoring.policies, official_factor=scoring.official_factor,
                                      where=frame.name)
    if per_policy[scoring.policies[0]] is None:
        return None
    scores: dict[str, float] = {}
    for policy, metrics in per_policy.items():
        if policy == "none":
            scores.update({k: v for k, v in metrics.items() if k not in ("scale", "shift")})
        else:
            scores.update({f"{policy}/{k}": v for k, v in metrics.items()})
    if scoring.dbe_references:
        scores.update(frame_dbe(scoring, frame))
    return scores


def frame_dbe(scoring: DepthScoring, frame: FrameArrays) -> dict[str, float]:
    """`dbe/<reference>/<mode>_{acc,comp}` of one frame (NaN without reference edges, e.g. no `depth_edges`)."""
    prediction = clamp_prediction(frame.pred_depth_du, scoring.depth)
    valid = valid_depth_mask(frame.gt_depth_du, scoring.depth, frame.valid)
    out = {}
    for reference in scoring.dbe_references:
        edges = frame.gt_boundary if reference == "boundary" else frame.depth_edges
        for mode in scoring.dbe_modes:
            if edges is None:
                errors = {"dbe_acc": np.nan, "dbe_comp": np.nan}
            else:
                errors = depth_boundary_errors(prediction, edges, valid, mode=mode)
            out[f"dbe/{reference}/{mode}_acc"] = errors["dbe_acc"]
            out[f"dbe/{reference}/{mode}_comp"] = errors["dbe_comp"]
    return out


class DepthBenchmark:
    """Depth numbers averaged over frames (`depth/abs_rel`, ..., `depth/median/abs_rel`, ...,
    `depth/dbe/boundary/ours_acc`, ...; `depth/rmse_m` = RMSE x depth_unit_m, the metres of the evaluation's unit),
    with per-frame rows."""

    def __init__(self, scoring: DepthScoring | DepthEvalOptions, depth_unit_m: float):
        self.scoring = scoring if isinstance(scoring, DepthScoring) else DepthScoring(scoring)
        if self.scoring.policies[:1] != ("none",):
            raise ValueError(f"depth policies must start with 'none', got {self.scoring.policies}")
        self.depth_unit_m = depth_unit_m
        self.metric = DepthMetric()
        self.rows: list[dict[str, float | str]] = []

    def scorer(self) -> Callable[[FrameArrays], dict[str, float] | None]:
        return functools.partial(frame_depth_scores, self.scoring)

    def add(self, name: str, score: dict[str, float] | None) -> None:
        self.metric.update(score)
        if score is not None:
            self.rows.append({"name": name, **score})

    def means(self) -> dict[str, float]:
        means = self.metric.compute()
        for prefix in ("", *(f"{p}/" for p in self.scoring.policies[1:])):
            if f"{prefix}rmse" in means:
                means[f"{prefix}rmse_m"] = means[f"{prefix}rmse"] * self.depth_unit_m
        return means

    def results(self) -> dict[str, float]:
        return {f"depth/{k}": float(v) for k, v in self.means().items()}


def score_frame(scorers: tuple[Callable[[FrameArrays], Any], ...], frame: FrameArrays) -> tuple[Any, ...]:
    """Every evaluator's score of one frame (what a worker process runs)."""
    return tuple(scorer(frame) for scorer in scorers)


class Evaluators:
    """Several evaluators run as one: `job` scores a frame for all, `add` hands each its score, `results` merges."""

    def __init__(self, evaluators: Sequence[FrameEvaluator]):
        self.evaluators = tuple(evaluators)
        self.job = functools.partial(score_frame, tuple(e.scorer() for e in self.evaluators))

    def add(self, name: str, scores: tuple[Any, ...]) -> None:
        for evaluator, score in zip(self.evaluators, scores, strict=True):
            evaluator.add(name, score)

    def results(self) -> dict[str, float]:
        """Every evaluator's numbers in one dict; a key given by two evaluators is an error naming both."""
        merged: dict[str, float] = {}
        owner: dict[str, str] = {}
        for evaluator in self.evaluators:
            for key, value in evaluator.results().items():
                if key in merged:
                    raise ValueError(f"result key {key!r} comes from both {owner[key]} and "
                                     f"{type(evaluator).__name__}")
                merged[key], owner[key] = value, type(evaluator).__name__
        return merged


class _Done:
    """The finished result of a job run in this process (the interface of multiprocessing's AsyncResult)."""

    def __init__(self, value: Any):
        self.value = value

    def ready(self) -> bool:
        return True

    def get(self, timeout: float | None = None) -> Any:
        return self.value


class MetricPool:
    """Worker processes for metric work, started on first use and reused; 0 workers run each job at submission.

    Workers come from a fork server (a clean process that imported this module), never forked from a process
    whose torch threads are running; the metric code is single-threaded.
    """

    def __init__(self, workers: int):
        if workers < 0:
            raise ValueError(f"metric workers must be >= 0, got {workers}")
        self.workers = workers
        self._pool = None

    def start(self) -> MetricPool:
        """Start the workers now (the first start also starts the fork server: a few seconds), not at first use."""
        if self.workers > 0 and self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            with _main_script_hidden():
                self._pool = context.Pool(self.workers)
        return self

    def submit(self, function: Callable[..., Any], *args: Any):
        """Queue `function(*args)`; returns an object with `ready()` and `get(timeout)`."""
        if self.workers == 0:
            return _Done(function(*args))
        return self.start()._pool.apply_async(function, args)

    def terminate(self) -> None:
        """Stop the workers now, abandoning queued and running jobs (the pool restarts on the next submit)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def close(self) -> None:
        """Let queued jobs finish, then stop the workers."""
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> MetricPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.terminate() if exc_info[0] is not None else self.close()


@contextlib.contextmanager
def _main_script_hidden():
    """Keep the fork server and its workers from re-running the caller's script (what multiprocessing does for
    `spawn` and `forkserver` when `__main__` has a file): a script without an `if __name__ == "__main__"` guard
    would start training again in every worker. The workers only run functions of importable modules."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path

