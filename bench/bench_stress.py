"""Seconds and peak memory per image of the boundary benchmark on the stress families, ours against pyEdgeEval.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_stress.py [--sizes 1024x768] [--families texture ...]
        [--protocols occlusion bsds] [--seeds 1] [--repeats 3] [--timeout 600]
        [--pyedgeeval-python PEE_VENV/bin/python] [--pyedgeeval-cpu-limit 45] [--json results.jsonl]
    .venv/bin/python bench/bench_stress.py --summary results.jsonl more.jsonl

Inputs: `bench/stress_maps.py` (untrained networks, noise, smooth fields, texture, thick soft maps, stripes,
constant maps, degenerate ground truth, five annotators). Each case runs in a fresh process on one core
(OMP_NUM_THREADS=1, NUMBA_NUM_THREADS=1), 99 thresholds, max_dist 0.0075; the time excludes compilation (a warm-up on
a tiny map first) and reading the inputs. Peak memory is the growth of the process's maximum resident set during the
call. Our time is split into stages: the prediction map (NMS in the occlusion protocol), the candidate sets (sorting
by value, or thinning at every threshold in the BSDS protocol) and matching + counting.

Protocols: occlusion = NMS once (with the conv_tri(E, 1) pre-smoothing that pyEdgeEval's `fast_nms` applies, so that
both tools score the same map), no thinning; bsds = no NMS, thinning at every threshold.

pyEdgeEval (GPL; never a project dependency) runs in its own interpreter when --pyedgeeval-python names one that has
it (install: `python3 -m venv PEE_VENV && PEE_VENV/bin/pip install pyEdgeEval==0.2.8 prettytable
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
import signal
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


def _reset_peak_rss_mb() -> float:
    """Reset this process's peak resident set (Linux: clear_refs 5) and return the current one, MB.

    Without the reset the peak would be the compiler's (numba compiles during the warm-up), not the benchmark's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def _status_mb(key: str) -> float:
    """A memory figure of /proc/self/status in MB (VmRSS: now, VmHWM: peak since start or the last reset)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_ours(case: Path, protocol: str, repeats: int = 1) -> dict:
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
    rss_before = _reset_peak_rss_mb()
    valid = np.ones(pred.shape, dtype=bool)
    thr = bd.thresholds(N_THRESHOLDS)
    best = None
    for _ in range(repeats):  # the fastest of a few runs: the machine is shared, other load only adds time
        start = time.perf_counter()
        cpu_start = time.process_time()
        prediction = bd._prediction_map(pred, options)
        t_map = time.perf_counter()
        changes, sum_p = bd._candidate_changes(prediction, valid, thr, options)
        t_sets = time.perf_counter()
        counts = bd._counts(changes, sum_p, gts, None, thr, options)
        end = time.perf_counter()
        run = {"seconds": end - start, "cpu_seconds": time.process_time() - cpu_start,
               "stages": {"map": t_map - start, "sets": t_sets - t_map, "match": end - t_sets},
               "n_candidates": int(len(np.unique(changes.pixel))), "n_gt": int(sum(int(g.sum()) for g in gts)),
               "counts": [a.tolist() for a in (counts.cnt_r, counts.sum_r, counts.cnt_p, counts.sum_p)]}
        if best is None or run["seconds"] < best["seconds"]:
            best = run
    best["repeats"] = repeats
    best["peak_extra_mb"] = max(0.0, _status_mb("VmHWM") - rss_before)
    return best


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
def status_mb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
open("/proc/self/clear_refs", "w").write("5")
rss = status_mb("VmRSS")
start = time.perf_counter()
cpu = time.process_time()
if len(gts) == 1:
    counts = evaluate_boundaries_threshold(thr, pred, gts[0], **kwargs)
else:
    counts = evaluate_boundaries_threshold_multiple_gts(thr, pred, gts, **kwargs)
out = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
       "peak_extra_mb": max(0.0, status_mb("VmHWM") - rss),
       "counts": [np.asarray(a).astype(int).tolist() for a in counts]}
print(json.dumps(out))
"""


def _run_worker(command: list[str], timeout_s: float, cpu_limit_s: int | None = None) -> dict:
    """Run one case in a fresh process; a case past `timeout_s` wall seconds or `cpu_limit_s` CPU seconds (on a
    loaded machine the fairer bound) is stopped and reported as a lower bound."""
    env = {**os.environ, **ONE_CORE, "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)

    def limit_cpu() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit_s, cpu_limit_s + 5))

    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env, cwd=REPO,
                              preexec_fn=limit_cpu if cpu_limit_s else None)
    except subprocess.TimeoutExpired:  # the killed worker was waited for, so its CPU time is in RUSAGE_CHILDREN
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"timeout_s": timeout_s, "cpu_seconds_at_timeout": (after.ru_utime + after.ru_stime)
                - (before.ru_utime + before.ru_stime)}
    if cpu_limit_s and done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return {"cpu_limit_s": cpu_limit_s}
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
        if row.get("pyedgeeval") and "seconds" in row["pyedgeeval"]:
            cache[(row["family"], row["seed"], *row["size"], row["protocol"])] = row["pyedgeeval"]
    return cache


def _size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def _cell(result: dict) -> str:
    if not result:
        return ""
    if "timeout_s" in result:
        return f"> {result['timeout_s']:.0f} (CPU > {result.get('cpu_seconds_at_timeout', 0):.0f})"
    if "cpu_limit_s" in result:
        return f"(CPU > {result['cpu_limit_s']})"
    if "error" in result:
        return "error"
    cpu = f" ({result['cpu_seconds']:.2f})" if "cpu_seconds" in result else ""
    return f"{result['seconds']:.2f}{cpu}"


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
        cpu = theirs.get("cpu_seconds", theirs.get("cpu_seconds_at_timeout", theirs.get("cpu_limit_s")))
        if "cpu_seconds" in ours and cpu is not None:
            bound = "" if "cpu_seconds" in theirs else "> "
            speedup += f" (CPU {bound}{cpu / max(ours['cpu_seconds'], 1e-9):.0f}x)"
        deltas = ""
        if "counts" in theirs and "counts" in ours:
            a, b = image_numbers(ours["counts"]), image_numbers(theirs["counts"])
            deltas = " / ".join(f"{a[k] - b[k]:+.4f}" for k in ("ods_f", "ois_f", "ap"))
        cells += [_cell(theirs), speedup, deltas]
    return "| " + " | ".join(cells) + " |"


def _their_cpu(theirs: dict | None) -> tuple[str, float | None]:
    """pyEdgeEval's CPU seconds: ("", value) when it finished, ("> ", bound) when it was stopped, ("", None)."""
    if not theirs:
        return "", None
    if "cpu_seconds" in theirs:
        return "", theirs["cpu_seconds"]
    bound = theirs.get("cpu_limit_s", theirs.get("cpu_seconds_at_timeout"))
    return ("> ", bound) if bound is not None else ("", None)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}" if value < 10 else f"{value:.0f}"


def summarize(paths: list[Path]) -> None:
    """One row per family, size and protocol from --json files: our CPU seconds, typical (median over seeds) and
    worst (max), the fastest wall time, the stage split (of wall time) and peak memory of the worst seed, pyEdgeEval's
    CPU seconds (or the bound it was stopped at) and the CPU speed-up on the slowest seed pyEdgeEval ran on."""
    rows: dict[tuple, list[dict]] = {}
    theirs_by_case: dict[tuple, dict] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            key = (row["family"], tuple(row["size"]), row["protocol"])
            if row.get("pyedgeeval"):
                theirs_by_case[(*key, row["seed"])] = row["pyedgeeval"]
            if row.get("ours") and ("cpu_seconds" in row["ours"] or "timeout_s" in row["ours"]):
                rows.setdefault(key, []).append(row)
    print("| family | size | protocol | seeds | CPU s typical / worst | wall s (min) | worst: map / sets / match "
          "(wall share) | peak MB | candidates / GT px | pyEdgeEval CPU s | speed-up (CPU) |")
    print("|" + "---|" * 11)
    for key in sorted(rows, key=lambda k: (k[1][0] * k[1][1], k[0], k[2])):
        stopped = [c for c in rows[key] if "cpu_seconds" not in c["ours"]]
        cases = [c for c in rows[key] if "cpu_seconds" in c["ours"]]
        if stopped:
            bound, theirs = _their_cpu(theirs_by_case.get((*key, stopped[0]["seed"])))
            ours = stopped[0]["ours"]
            print(f"| {key[0]} | {key[1][0]}x{key[1][1]} | {key[2]} | {len(rows[key])} | stopped after "
                  f"{ours['timeout_s']:.0f} s wall, > {ours.get('cpu_seconds_at_timeout', 0):.0f} CPU s | | | | | "
                  f"{bound}{_seconds(theirs)} | |")
            continue
        cpu = np.array([c["ours"]["cpu_seconds"] for c in cases])
        worst = cases[int(np.argmax(cpu))]
        stages = worst["ours"]["stages"]
        total = max(sum(stages.values()), 1e-9)
        share = " / ".join(f"{100 * stages[k] / total:.0f} %" for k in ("map", "sets", "match"))
        their_text, speedup = "", ""
        for case in sorted(cases, key=lambda c: -c["ours"]["cpu_seconds"]):  # the slowest seed pyEdgeEval ran on
            bound, theirs = _their_cpu(theirs_by_case.get((*key, case["seed"])))
            if theirs is not None:
                their_text = f"{bound}{_seconds(theirs)}"
                speedup = f"{bound}{theirs / max(case['ours']['cpu_seconds'], 1e-9):.0f}x"
                break
        print(f"| {key[0]} | {key[1][0]}x{key[1][1]} | {key[2]} | {len(cases)} | {np.median(cpu):.2f} / "
              f"{cpu.max():.2f} | {min(c['ours']['seconds'] for c in cases):.2f} | {share} | "
              f"{worst['ours']['peak_extra_mb']:.0f} | {worst['ours'].get('n_candidates', '')} / "
              f"{worst['ours'].get('n_gt', '')} | {their_text} | {speedup} |")


def main(argv: list[str] | None = None) -> None:
    from bench.stress_maps import FAMILIES, make_case

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(1024, 768)])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--protocols", nargs="+", default=["occlusion", "bsds"], choices=["occlusion", "bsds"])
    parser.add_argument("--seeds", type=int, default=1, help="images per family and size (seeds 0..N-1)")
    parser.add_argument("--repeats", type=int, default=1, help="our runs per case; the fastest is kept")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per case and tool")
    parser.add_argument("--pyedgeeval-python", default=None)
    parser.add_argument("--pyedgeeval-cpu-limit", type=int, default=None,
                        help="stop pyEdgeEval after this many CPU seconds (a lower bound is reported)")
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per case here")
    parser.add_argument("--pyedgeeval-cache", type=Path, default=None,
                        help="JSON lines of an earlier run: reuse its pyEdgeEval results for the same cases "
                             "(pyEdgeEval is slow and does not change)")
    parser.add_argument("--only-pyedgeeval", action="store_true", help="skip our benchmark (fill the cache)")
    parser.add_argument("--summary", nargs="+", type=Path, default=None,
                        help="print the per-family table of earlier --json files and stop")
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "PROTOCOL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.summary:
        summarize(args.summary)
        return
    if args.worker:
        print(json.dumps(run_ours(Path(args.worker[0]), args.worker[1], args.repeats)))
        return
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, one core per case, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    header = "| family | size | protocol | ours s (CPU s) | map / sets / match s | peak MB |"
    if args.pyedgeeval_python or args.pyedgeeval_cache:
        header += " pyEdgeEval s (CPU s) | speed-up | ODS / OIS / AP ours - pyEdgeEval |"
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
                            [sys.executable, str(Path(__file__)), "--worker", str(case), protocol, "--repeats",
                             str(args.repeats)], args.timeout)
                        theirs = cache.get((family, seed, width, height, protocol))
                        if theirs is None and args.pyedgeeval_python:
                            theirs = _run_worker([args.pyedgeeval_python, "-c", _PYEDGEEVAL_WORKER, str(case),
                                                  protocol], args.timeout, args.pyedgeeval_cpu_limit)
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
