"""Seconds per image of the boundary benchmark (99 thresholds, one core), both protocols, optional pyEdgeEval.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_eval.py [--sizes 640x480 1024x768] [--images 3]
        [--pyedgeeval-python /path/to/venv/bin/python] [--pyedgeeval-sizes 320x240 640x480]

Inputs are synthetic: 6 random 1-pixel GT segments; the prediction is the same segments shifted by up to 3 px, 3 px
wide, blurred, plus sparse noise. The occlusion protocol gets the soft map (it applies NMS itself); the BSDS
protocol gets the NMS'd map (detectors hand BSDS thin maps) and thins every threshold. Timings exclude compilation
(one warm-up call) and file reading.

pyEdgeEval (GPL; never a dependency) is optional: if it is importable here, or if --pyedgeeval-python names an
interpreter that has it, the same BSDS-protocol inputs are scored with its CSA matcher and the max F and AP are
compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

os.environ.setdefault("OMP_NUM_THREADS", "1")

from obtoolkit.metrics.boundary import BoundaryEvalOptions, BoundaryMetric, image_boundary_counts, thresholds
from obtoolkit.metrics.nms import edge_nms
from obtoolkit.metrics.pr_curve import recall_precision_f


def synthetic_pair(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(soft prediction in [0, 1], bool GT), both (H, W)."""
    rng = np.random.default_rng(seed)
    gt = np.zeros((height, width), dtype=bool)
    soft = np.zeros((height, width))
    for _ in range(6):
        y0, y1 = rng.integers(0, height, 2)
        x0, x1 = rng.integers(0, width, 2)
        n = max(abs(int(y1) - int(y0)), abs(int(x1) - int(x0))) + 1
        ys = np.round(np.linspace(y0, y1, n)).astype(int)
        xs = np.round(np.linspace(x0, x1, n)).astype(int)
        gt[ys, xs] = True
        dy, dx = rng.integers(-3, 4, 2)
        soft[np.clip(ys + dy, 0, height - 1), np.clip(xs + dx, 0, width - 1)] = rng.uniform(0.4, 1.0)
    soft = ndimage.gaussian_filter(ndimage.grey_dilation(soft, size=3), 1.0)
    noise = (rng.random((height, width)) < 0.02) * rng.random((height, width)) * 0.5
    return np.clip(soft / soft.max() + noise, 0.0, 1.0), gt


def _summary(counts) -> dict[str, float]:
    metric = BoundaryMetric(thresholds(len(counts.thresholds)))
    metric.update(counts)
    result = metric.compute()
    _, _, f = recall_precision_f(counts.cnt_r, counts.sum_r, counts.cnt_p, counts.sum_p)
    return {"ods_f": result.ods.f_measure, "max_f": float(f.max()), "ap": result.ap}


def time_ours(size: tuple[int, int], n_images: int, protocol: str) -> tuple[float, list[dict]]:
    """Mean seconds per image and per-image numbers."""
    width, height = size
    options = BoundaryEvalOptions(protocol=protocol)
    warm, warm_gt = synthetic_pair(40, 40, 999)
    image_boundary_counts(warm, warm_gt, options)
    seconds, numbers = [], []
    for seed in range(n_images):
        soft, gt = synthetic_pair(height, width, seed)
        pred = soft if protocol == "occlusion" else edge_nms(soft)
        start = time.perf_counter()
        counts = image_boundary_counts(pred, gt, options)
        seconds.append(time.perf_counter() - start)
        numbers.append(_summary(counts))
    return float(np.mean(seconds)), numbers


_PYEDGEEVAL_SCRIPT = """
import json, sys, time
import numpy as np
from pyEdgeEval.common.binary_label.evaluate_boundaries import evaluate_boundaries_threshold
pred = np.load(sys.argv[1]); gt = np.load(sys.argv[2])
thr = np.linspace(1 / 100, 1 - 1 / 100, 99)
start = time.perf_counter()
cnt_r, sum_r, cnt_p, sum_p = evaluate_boundaries_threshold(thr, pred, gt, max_dist=0.0075, apply_thinning=True,
                                                          apply_nms=False)
print(json.dumps({"seconds": time.perf_counter() - start, "counts": [np.asarray(a).tolist()
                  for a in (cnt_r, sum_r, cnt_p, sum_p)]}))
"""


def run_pyedgeeval(python: str, pred: np.ndarray, gt: np.ndarray) -> dict:
    """Score one map with pyEdgeEval in another interpreter (its GPL code never enters this process)."""
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "pred.npy", pred)
        np.save(Path(tmp) / "gt.npy", gt)
        done = subprocess.run([python, "-c", _PYEDGEEVAL_SCRIPT, str(Path(tmp) / "pred.npy"),
                               str(Path(tmp) / "gt.npy")], capture_output=True, text=True, check=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_pyedgeeval(python: str, size: tuple[int, int]) -> dict:
    """Ours vs pyEdgeEval on one BSDS-protocol image: seconds, max F, AP and per-threshold count deltas."""
    width, height = size
    soft, gt = synthetic_pair(height, width, 0)
    pred = edge_nms(soft)
    options = BoundaryEvalOptions(protocol="bsds")
    image_boundary_counts(*synthetic_pair(40, 40, 999), options)
    start = time.perf_counter()
    ours = image_boundary_counts(pred, gt, options)
    our_seconds = time.perf_counter() - start
    theirs = run_pyedgeeval(python, pred, gt)
    cnt_r, sum_r, cnt_p, sum_p = (np.asarray(a) for a in theirs["counts"])
    from obtoolkit.metrics.boundary import BoundaryCounts

    their_counts = BoundaryCounts(ours.thresholds, cnt_r, sum_r, cnt_p, sum_p)
    delta = (ours.cnt_r - cnt_r) / np.maximum(1, sum_r)
    return {"size": f"{width}x{height}", "ours_s": our_seconds, "pyedgeeval_s": theirs["seconds"],
            "ours": _summary(ours), "pyedgeeval": _summary(their_counts),
            "count_delta_min_pct": 100 * float(delta.min()), "count_delta_max_pct": 100 * float(delta.max())}


def _size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(640, 480), (1024, 768)])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--protocols", nargs="+", default=["occlusion", "bsds"])
    parser.add_argument("--pyedgeeval-python", default=None)
    parser.add_argument("--pyedgeeval-sizes", nargs="+", type=_size, default=[(320, 240), (640, 480)])
    args = parser.parse_args(argv)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, one process")
    for size in args.sizes:
        for protocol in args.protocols:
            seconds, numbers = time_ours(size, args.images, protocol)
            mean_f = np.mean([n["ods_f"] for n in numbers])
            print(f"{size[0]}x{size[1]} {protocol:9s} 99 thresholds: {seconds:7.2f} s/image "
                  f"(mean over {args.images} images; mean ODS F {mean_f:.4f})", flush=True)
    python = args.pyedgeeval_python
    if python is None:
        try:
            import pyEdgeEval  # noqa: F401

            python = sys.executable
        except ImportError:
            print("# pyEdgeEval not installed: comparison skipped (pass --pyedgeeval-python)")
    if python is not None:
        for size in args.pyedgeeval_sizes:
            print(json.dumps(compare_pyedgeeval(python, size)), flush=True)


if __name__ == "__main__":
    main()
