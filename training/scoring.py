"""Per-frame metric work of the evaluation driver, and the worker processes that run it.

Everything here is numpy (no torch), so that metric workers start fast and small. An evaluator has two halves: a
scorer, a picklable function of one frame's arrays that runs in a worker (`BoundaryBenchmark`: the exact boundary
counts; `DepthBenchmark`: the nine depth metrics), and an accumulator in the main process (`add`, then `results`).
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
    depth_errors,
    image_boundary_counts,
)
from obtoolkit.metrics.evaluators import BoundaryEvaluation


@dataclass(frozen=True)
class FrameArrays:
    """One evaluated frame on the host.

    pred_depth_du, gt_depth_du: float32 (H, W) in network depth units (GT 0 where invalid); valid: bool (H, W) GT
    depth usable; probability: float32 (H, W) predicted boundary probability in [0, 1]; gt_boundary: bool (H, W).
    """

    name: str
    pred_depth_du: np.ndarray
    probability: np.ndarray
    gt_depth_du: np.ndarray
    valid: np.ndarray
    gt_boundary: np.ndarray


class FrameEvaluator(Protocol):
    def scorer(self) -> Callable[[FrameArrays], Any]: ...
    def add(self, name: str, score: Any) -> None: ...
    def results(self) -> dict[str, float]: ...


def boundary_counts(options: BoundaryEvalOptions, name: str, probability: np.ndarray,
                    gt_boundary: np.ndarray) -> BoundaryCounts:
    """The exact benchmark's counts of one frame at every threshold (probability float (H, W), gt_boundary bool)."""
    return image_boundary_counts(probability, gt_boundary, options, where=name)


def frame_boundary_counts(options: BoundaryEvalOptions, frame: FrameArrays) -> BoundaryCounts:
    return boundary_counts(options, frame.name, frame.probability, frame.gt_boundary)


def frame_depth_errors(options: DepthEvalOptions, frame: FrameArrays) -> dict[str, float] | None:
    """The nine depth metrics of one frame (None without valid pixels)."""
    return depth_errors(frame.pred_depth_du, frame.gt_depth_du, options, frame.valid, where=frame.name)


class BoundaryBenchmark:
    """The exact ODS / OIS / AP / R50 of `obtoolkit.metrics`, as `boundary/ods_f`, `boundary/ois_f`, ..."""

    def __init__(self, options: BoundaryEvalOptions):
        self.options = options
        self.evaluator = BoundaryEvaluator(options)

    def scorer(self) -> Callable[[FrameArrays], BoundaryCounts]:
        return functools.partial(frame_boundary_counts, self.options)

    def add(self, name: str, score: BoundaryCounts) -> None:
        self.evaluator.add_counts(name, score)

    def evaluation(self) -> BoundaryEvaluation:
        return self.evaluator.evaluate()

    def results(self) -> dict[str, float]:
        result = self.evaluation().boundary
        return {"boundary/ods_f": result.ods.f_measure, "boundary/ois_f": result.ois_f, "boundary/ap": result.ap,
                "boundary/r50": result.r50}


class DepthBenchmark:
    """Depth metrics averaged over frames (`depth/abs_rel`, ..., `depth/rmse_m` = RMSE x depth_unit_m), with rows."""

    def __init__(self, options: DepthEvalOptions, depth_unit_m: float):
        self.options, self.depth_unit_m = options, depth_unit_m
        self.metric = DepthMetric()
        self.rows: list[dict[str, float | str]] = []

    def scorer(self) -> Callable[[FrameArrays], dict[str, float] | None]:
        return functools.partial(frame_depth_errors, self.options)

    def add(self, name: str, score: dict[str, float] | None) -> None:
        self.metric.update(score)
        if score is not None:
            self.rows.append({"name": name, **score})

    def means(self) -> dict[str, float]:
        means = self.metric.compute()
        if "rmse" in means:
            means["rmse_m"] = means["rmse"] * self.depth_unit_m
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

