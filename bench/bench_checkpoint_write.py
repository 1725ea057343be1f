"""What writing checkpoints through a Python file costs, against torch.save given a path.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_checkpoint_write.py [--mib 400] [--repeat 5] [--dir /tmp]

`training.checkpoints.write_checkpoint` opens the file in Python and hands torch.save the file object, so that a
full disk inside torch's writer keeps its errno (ENOSPC) and the fault-injection helper sees the write. Each write
here is followed by an fsync, as the atomic writer does. Prints one JSON object (median seconds and MB/s of each
way, alternating A/B); no figure is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch


def write(payload: dict, path: Path, how: str) -> float:
    started = time.perf_counter()
    if how == "path":
        torch.save(payload, path)
    else:
        with open(path, "wb") as handle:
            torch.save(payload, handle)
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=400, help="payload size (float32 tensors of 4 MiB)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    payload = {f"tensor_{i}": torch.randn(1 << 20) for i in range(args.mib // 4)}
    seconds: dict[str, list[float]] = {"path": [], "python_file": []}
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        target = Path(folder) / "checkpoint.pt"
        for _ in range(args.repeat):
            for how in seconds:
                seconds[how].append(write(payload, target, how))
    result = {"mib": args.mib, "repeat": args.repeat, "load_average": os.getloadavg()}
    for how, values in seconds.items():
        median = statistics.median(values)
        result[how] = {"median_s": round(median, 3), "min_s": round(min(values), 3), "max_s": round(max(values), 3),
                       "mb_per_s": round(args.mib * 1.048576 / median)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
