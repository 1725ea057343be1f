"""Seconds and peak memory per image of the boundary benchmark on the stress families, ours against pyEdgeEval.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_stress.py [--sizes 1024x768] [--families texture ...]
        [--protocols occlusion bsds] [--seeds 1] [--timeout 600]
        [--pyedgeeval-python /tmp/issue11-pee/bin/python] [--json results.jsonl]

Inputs: `bench/stress_maps.py` (untrained networks, noise, smooth fields, texture, thick soft maps, stripes,
constant maps, degenerate ground truth, five annotators). Each case runs in a fresh process on one core
(OMP_NUM_THREADS=1, NUMBA_NUM_THREADS=1), 99 thresholds, max_dist 0.0075; the time excludes compilation (a warm-up on
a tiny map first) and reading the inputs. Peak memory is the growth of the process's maximum resident set during the
call. Our time is split into stages: the prediction map (NMS in the occlusion protocol), the candidate sets (sorting
by value, or thinning at every threshold in the BSDS protocol) and matching + counting.

Protocols: occlusion = NMS once (with the conv_tri(E, 1) pre-smoothing that pyEdgeEval's `fast_nms` applies, so that
both tools score the same map), no thinning; bsds = no NMS, thinning at every threshold.

pyEdgeEval (GPL; never a project dependency) runs in its own interpreter when --pyedgeeval-python names one that has
it (install: `python3 -m venv /tmp/issue11-pee && /tmp/issue11-pee/bin/pip install pyEdgeEval==0.2.8 prettytable
scikit-image opencv-python-headless scipy`). Its single-image ODS F, OIS F and AP are computed from its counts with
our aggregation and compared with ours. Note: its `binary_thin` stops after the first subiteration that changes
nothing, so on thick maps its thinned sets (and counts) differ from MATLAB's and ours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MAX_DIST = 0.0075
N_THRESHOLDS = 99
ONE_CORE = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_ours(case: Path, protocol: str) -> dict:
    """Worker: score one case with our benchmark, stage by stage; returns seconds, peak memory and counts."""
    from obtoolkit.metrics import boundary as bd
    from obtoolkit.metrics.boundary import BoundaryEvalOptions

    options = BoundaryEvalOptions(protocol=protocol, n_thresholds=N_THRESHOLDS, max_dist=MAX_DIST,
                                  nms_presmooth_radius=1)
    data = np.load(case)
    pred, gts = data["pred"], [g for g in data["gts"]]
    tiny = np.zeros((24, 24), dtype=bool)
    tiny[12, 4:20] = True
    for warm_gts in ([tiny], [tiny, tiny]):
        bd.image_boundary_counts(np.where(tiny, 0.8, 0.1), warm_gts, options)
    rss_before = _peak_rss_mb()
    valid = np.ones(pred.shape, dtype=bool)
    thr = bd.thresholds(N_THRESHOLDS)
    start = time.perf_counter()
    cpu_start = time.process_time()
    prediction = bd._prediction_map(pred, options)
    t_map = time.perf_counter()
    changes, sum_p = bd._candidate_changes(prediction, valid, thr, options)
    t_sets = time.perf_counter()
    counts = bd._counts(changes, sum_p, gts, None, thr, options)
    end = time.perf_counter()
    return {"seconds": end - start, "cpu_seconds": time.process_time() - cpu_start,
            "stages": {"map": t_map - start, "sets": t_sets - t_map, "match": end - t_sets},
            "peak_extra_mb": max(0.0, _peak_rss_mb() - rss_before),
            "counts": [a.tolist() for a in (counts.cnt_r, counts.sum_r, counts.cnt_p, counts.sum_p)]}


_PYEDGEEVAL_WORKER = """
import json, resource, sys, time
import numpy as np
from pyEdgeEval.common.binary_label.evaluate_boundaries import (
    evaluate_boundaries_threshold, evaluate_boundaries_threshold_multiple_gts)
data = np.load(sys.argv[1]); protocol = sys.argv[2]
pred, gts = data["pred"], [g for g in data["gts"]]
thr = np.linspace(1 / 100, 1 - 1 / 100, 99)
kwargs = dict(max_dist=0.0075, apply_thinning=protocol == "bsds", apply_nms=protocol == "occlusion")
evaluate_boundaries_threshold(np.linspace(0.1, 0.9, 3), np.full((24, 24), 0.5), np.eye(24, dtype=bool), **kwargs)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
start = time.perf_counter()
cpu = time.process_time()
if len(gts) == 1:
    counts = evaluate_boundaries_threshold(thr, pred, gts[0], **kwargs)
else:
    counts = evaluate_boundaries_threshold_multiple_gts(thr, pred, gts, **kwargs)
out = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
       "peak_extra_mb": max(0.0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - rss),
       "counts": [np.asarray(a).astype(int).tolist() for a in counts]}
print(json.dumps(out))
"""


def _run_worker(command: list[str], timeout_s: float) -> dict:
    env = {**os.environ, **ONE_CORE, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"timeout_s": timeout_s}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"rc {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def image_numbers(counts: list[list[int]]) -> dict[str, float]:
    """Single-image ODS F, OIS F and AP from [cnt_r, sum_r, cnt_p, sum_p] (our aggregation for both tools)."""
    from obtoolkit.metrics.boundary import BoundaryCounts, BoundaryMetric, thresholds

    thr = thresholds(N_THRESHOLDS)
    metric = BoundaryMetric(thr)
    metric.update(BoundaryCounts(thr, *(np.asarray(a, dtype=np.int64) for a in counts)))
    result = metric.compute()
    return {"ods_f": result.ods.f_measure, "ois_f": result.ois_f, "ap": result.ap}


def _read_cache(path: Path | None) -> dict:
    """pyEdgeEval results of an earlier --json run, by (family, seed, width, height, protocol)."""
    if path is None:
        return {}
    cache = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row.get("pyedgeeval") and "error" not in row["pyedgeeval"]:
            cache[(row["family"], row["seed"], *row["size"], row["protocol"])] = row["pyedgeeval"]
    return cache


def _size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def _cell(result: dict) -> str:
    if not result:
        return ""
    if "timeout_s" in result:
        return f"> {result['timeout_s']:.0f}"
    if "error" in result:
        return "error"
    return f"{result['seconds']:.2f}"


def _row(family: str, size: str, protocol: str, ours: dict, theirs: dict | None) -> str:
    stages = ours.get("stages")
    stage_text = " / ".join(f"{stages[k]:.2f}" for k in ("map", "sets", "match")) if stages else ""
    memory = f"{ours['peak_extra_mb']:.0f}" if "peak_extra_mb" in ours else ""
    cells = [family, size, protocol, _cell(ours), stage_text, memory]
    if theirs is not None:
        speedup = ""
        if "seconds" in theirs and "seconds" in ours:
            speedup = f"{theirs['seconds'] / max(ours['seconds'], 1e-9):.0f}x"
        elif "timeout_s" in theirs and "seconds" in ours:
            speedup = f"> {theirs['timeout_s'] / max(ours['seconds'], 1e-9):.0f}x"
        deltas = ""
        if "counts" in theirs and "counts" in ours:
            a, b = image_numbers(ours["counts"]), image_numbers(theirs["counts"])
            deltas = " / ".join(f"{a[k] - b[k]:+.4f}" for k in ("ods_f", "ois_f", "ap"))
        cells += [_cell(theirs), speedup, deltas]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> None:
    from bench.stress_maps import FAMILIES, make_case

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(1024, 768)])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--protocols", nargs="+", default=["occlusion", "bsds"], choices=["occlusion", "bsds"])
    parser.add_argument("--seeds", type=int, default=1, help="images per family and size (seeds 0..N-1)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per case and tool")
    parser.add_argument("--pyedgeeval-python", default=None)
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per case here")
    parser.add_argument("--pyedgeeval-cache", type=Path, default=None,
                        help="JSON lines of an earlier run: reuse its pyEdgeEval results for the same cases "
                             "(pyEdgeEval is slow and does not change)")
    parser.add_argument("--only-pyedgeeval", action="store_true", help="skip our benchmark (fill the cache)")
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "PROTOCOL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_ours(Path(args.worker[0]), args.worker[1])))
        return
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, one core per case, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    header = "| family | size | protocol | ours s | map / sets / match s | peak MB |"
    if args.pyedgeeval_python or args.pyedgeeval_cache:
        header += " pyEdgeEval s | speed-up | ODS / OIS / AP ours - pyEdgeEval |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    cache = _read_cache(args.pyedgeeval_cache)
    with tempfile.TemporaryDirectory(prefix="bench_stress_") as tmp:
        for width, height in args.sizes:
            for family in args.families:
                for seed in range(args.seeds):
                    pred, gts = make_case(family, height, width, seed)
                    case = Path(tmp) / f"{family}_{width}x{height}_{seed}.npz"
                    np.savez(case, pred=pred, gts=np.stack(gts))
                    for protocol in args.protocols:
                        ours = {} if args.only_pyedgeeval else _run_worker(
                            [sys.executable, str(Path(__file__)), "--worker", str(case), protocol], args.timeout)
                        theirs = cache.get((family, seed, width, height, protocol))
                        if theirs is None and args.pyedgeeval_python:
                            theirs = _run_worker([args.pyedgeeval_python, "-c", _PYEDGEEVAL_WORKER, str(case),
                                                  protocol], args.timeout)
                        name = family if args.seeds == 1 else f"{family}#{seed}"
                        print(_row(name, f"{width}x{height}", protocol, ours, theirs), flush=True)
                        if args.json:
                            with args.json.open("a") as out:
                                out.write(json.dumps({"family": family, "seed": seed, "size": [width, height],
                                                      "protocol": protocol, "ours": ours, "pyedgeeval": theirs,
                                                      "load": os.getloadavg()[0]}) + "\n")
    print(f"# load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
