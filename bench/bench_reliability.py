"""What the reliability guarantees cost, and how fast a killed run disappears.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_reliability.py [--kills 10] [--repeat 50]

1. Per-frame cost of the checks `obh generate` adds, at Hypersim's size: decoding a 1024x768 tonemap JPEG
   completely (`check_rgb_input`) and the inputs key (`inputs_key`: six stats and a digest), beside copying the
   JPEG (what the frame did with it before). Compare with 0.31 s per frame for the whole frame (docs/benchmarks.md).
2. From SIGKILL of `obh generate -j 2` (the parent alone, both workers in the middle of a task) to the moment no
   process of the run is left (the workers, loky's resource trackers): min, median, max over --kills runs.
3. Taking and releasing a tree lock.

Prints one JSON object. No figure here is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from obhypersim_build.inputs import check_rgb_input, input_files, inputs_key
from obtoolkit.hypersim import FrameId, HypersimCamera, HypersimLayout
from obtoolkit.limits import DEFAULT_MAX_IMAGE_PIXELS
from obtoolkit.treelock import lock_tree
from tests.obhypersim_build.conftest import write_layered_tree
from tests.reliability.conftest import stats_files
from tests.reliability.faults import Run, obh_command

FRAME = FrameId("ai_001_001", "cam_00", 0)


def median_ms(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 3)


def per_frame_costs(work: Path, repeat: int) -> dict:
    layout = HypersimLayout(work / "hypersim")
    rng = np.random.default_rng(0)
    smooth = np.cumsum(rng.normal(0, 3, (768, 1024, 3)), axis=1)
    picture = np.clip(smooth - smooth.min(axis=1, keepdims=True), 0, 255).astype(np.uint8)
    for path in input_files(layout, FRAME):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
    Image.fromarray(picture).save(layout.tonemap_path(FRAME), "JPEG", quality=95)
    camera = HypersimCamera("ai_001_001", np.eye(3), 768, 1024, 0.01)
    copy_to = work / "copy.jpg"
    return {
        "jpeg_bytes": layout.tonemap_path(FRAME).stat().st_size,
        "decode_check_ms": median_ms(lambda: check_rgb_input(layout.tonemap_path(FRAME), (768, 1024),
                                                             DEFAULT_MAX_IMAGE_PIXELS, what="bench"), repeat),
        "inputs_key_ms": median_ms(lambda: inputs_key(layout, FRAME, camera), repeat),
        "jpeg_copy_ms": median_ms(lambda: shutil.copyfile(layout.tonemap_path(FRAME), copy_to), repeat),
    }


def orphan_times(work: Path, kills: int) -> dict:
    hypersim = write_layered_tree(work / "layered", frames_per_camera=12).layout.root
    seconds = []
    for trial in range(kills):
        out = work / f"out{trial}"
        run = Run(obh_command("generate", hypersim, out, "-j", "2"))
        run.kill_when(lambda out=out: stats_files(out) >= 2)
        start = time.monotonic()
        while run.processes() and time.monotonic() - start < 30:
            time.sleep(0.01)
        seconds.append(time.monotonic() - start)
        run.wait_gone(0)
    return {"kills": kills, "gone_after_s": {"min": round(min(seconds), 2),
                                            "median": round(statistics.median(seconds), 2),
                                            "max": round(max(seconds), 2)}}


def lock_cost(work: Path, repeat: int) -> dict:
    def take() -> None:
        with lock_tree(work / "locked", "bench"):
            pass

    return {"lock_take_release_ms": median_ms(take, repeat)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as folder:
        work = Path(folder)
        figures = {"load_average_before": os.getloadavg(), **per_frame_costs(work, args.repeat),
                   **lock_cost(work, args.repeat), **orphan_times(work, args.kills),
                   "load_average_after": os.getloadavg()}
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
