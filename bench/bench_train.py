"""Training throughput: `obh train` end to end next to the pure step time of the same model.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_train.py --work DIR                        # CPU, demo config
    python bench/bench_train.py --preset gpu-paper --work DIR --official-repo MODOT \\
        --official-extra-path bench/standins                                    # one GPU: see docs/benchmarks.md

Sections (`--sections`, default all that apply to the device):
  step        pure step time: forward, loss, backward, clipping and the optimizer on one in-memory batch, exactly as
              the trainer runs it (`TrainRecipe._step`), per precision (`--precisions`: fp32, fp16 with a gradient
              scaler, bf16, bf16-cl = bf16 with channels-last; CUDA only but fp32). With --official-repo, the
              authors' network beside it: the same losses, plain Adam, a GradScaler for fp16, as their script.
              Timed with CUDA events on a GPU (median of 3 windows of --repeats steps after warm-up), else wall time.
  e2e         `obh train` in this process on synthetic frames (loader workers, steps, validation, checkpoints):
              images/s from the first step to the end, the seconds of validation (blocking part) and checkpoints
              and their share of wall time, as measured and projected to the recipe's intervals
              (--project-every steps, --project-val-frames frames).
  contention  CPU only: seconds per step of the demo recipe alone and beside 1 and 2 busy processes
              (`python -c 'while True: pass'`), with threads fixed (runtime.adapt_threads=false) and adaptive.

Synthetic frames (`make_synthetic_dataset` + label generation, which needs open3d) are made once under --work and
reused; a machine without open3d can be handed a --work folder made elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.config import load_train_config
from training.train import DeviceCounters, TrainRecipe

REPO = Path(__file__).resolve().parents[1]
PRESETS = {
    # the acceptance setting of issue 15: the demo recipe on 640x480 frames, on the CPU
    "cpu-demo": dict(config="configs/demo_cpu.yaml", frames_hw=(480, 640), scenes=3, cameras=1, frames=4, steps=12,
                     val_every=6, checkpoint_every=6, overrides=["validation.exact_wait_s=0"],
                     precisions=["fp32"], project_every=150, project_val_frames=8),
    # the paper's recipe (Swin-L, 320x320 crops, batch 8) on 1024x768 frames with 8 loader workers, on one GPU
    # (the paper config with bf16, the recommended precision, for the end-to-end run)
    "gpu-paper": dict(config="configs/ob_hypersim_paper.yaml", frames_hw=(768, 1024), scenes=3, cameras=2, frames=4,
                      steps=240, val_every=120, checkpoint_every=120,
                      overrides=["data.num_workers=8", "runtime.amp=bf16", "validation.exact_wait_s=0"],
                      precisions=["fp32", "fp16", "bf16", "bf16-cl"], project_every=2000, project_val_frames=256),
}


def machine() -> str:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    return (f"{platform.machine()}, {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable); {gpu}; Python "
            f"{platform.python_version()}, torch {torch.__version__}; load average {os.getloadavg()[0]:.2f}")


def synthetic_root(work: Path, preset: dict) -> Path:
    """An OB-Hypersim tree of synthetic frames under work/ (made once)."""
    height, width = preset["frames_hw"]
    labels = work / f"ob_{width}x{height}"
    if not (labels / "manifest.parquet").is_file():
        from obhypersim_build.run import generate
        from obtoolkit.synth import make_synthetic_dataset

        print(f"making synthetic {width}x{height} frames under {work} ...", flush=True)
        make_synthetic_dataset(work / f"hypersim_{width}x{height}", scenes=preset["scenes"],
                               cameras=preset["cameras"], frames=preset["frames"], seed=11, height=height, width=width)
        generate(work / f"hypersim_{width}x{height}", labels, progress=False)
    return labels


def recipe_config(args, preset: dict, data_root: Path, run_dir: Path, extra: list[str] = ()):
    overrides = [f"data.root={data_root}", f"run_dir={run_dir}", "runtime.progress=false",
                 "runtime.tensorboard=false", f"model.variant={args.variant}" if args.variant else None,
                 *preset["overrides"], *extra, *args.override]
    return load_train_config(REPO / preset["config"], [o for o in overrides if o])


# ------------------------------------------------------------------------------------------------------------- step


PRECISION = {"fp32": ("none", False), "fp16": ("fp16", False), "bf16": ("bf16", False), "bf16-cl": ("bf16", True)}


def time_steps(step, repeats: int, cuda: bool) -> float:
    """Median seconds per step over 3 windows of `repeats` steps (after 3 warm-up steps)."""
    for _ in range(3):
        step()
    windows = []
    for _ in range(3):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(repeats):
                step()
            end.record()
            end.synchronize()
            windows.append(start.elapsed_time(end) / 1e3 / repeats)
        else:
            began = time.perf_counter()
            for _ in range(repeats):
                step()
            windows.append((time.perf_counter() - began) / repeats)
    return statistics.median(windows)


def host_syncs(step) -> str:
    """"none", or the first host synchronisation two steps make (torch.cuda.set_sync_debug_mode("error"))."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        step()
        step()
        return "none"
    except RuntimeError as error:
        return str(error).splitlines()[0]
    finally:
        torch.cuda.set_sync_debug_mode("default")


def ours_step(recipe: TrainRecipe):
    """One trainer step on a fixed batch, as the training loop runs it (with its thread governor)."""
    batch = next(iter(recipe.loader)).tensors_to(recipe.device)
    counters = DeviceCounters(recipe.state, recipe.device)

    def step() -> None:
        recipe._step(batch, counters)
        recipe.governor.poll()

    return step


def official_step(args, recipe: TrainRecipe, amp: str, channels_last: bool):
    """The authors' network with the same losses, plain Adam and (fp16) a GradScaler, as their training script."""
    from bench.official import build_official, official_outputs
    from training.inference import autocast

    config = recipe.config
    network = build_official(args.official_repo, config.model.variant, config.model.max_depth,
                             args.official_extra_path).to(recipe.device)
    if channels_last:
        network = network.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.optim.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
    batch = next(iter(recipe.loader)).tensors_to(recipe.device)
    images = batch.image.to(memory_format=torch.channels_last) if channels_last else batch.image

    def step() -> None:
        with autocast(recipe.device, amp):
            depth, logits = official_outputs(network, images)
        terms = recipe.loss_fn(depth, logits, batch.depth, batch.valid, batch.boundary, 0)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(sum(terms.values())).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(network.parameters(), config.optim.grad_clip)
        scaler.step(optimizer)
        scaler.update()

    return step


def bench_step(args, preset: dict, data_root: Path, work: Path) -> dict:
    rows = {}
    cuda = torch.cuda.is_available() and args.device != "cpu"
    print("| network | precision | ms per step | images/s | peak GiB |\n|---|---|---|---|---|", flush=True)
    for name in args.precisions or preset["precisions"]:
        amp, channels_last = PRECISION[name]
        if name != "fp32" and not cuda:
            continue
        extra = [f"runtime.amp={amp}", f"runtime.channels_last={str(channels_last).lower()}", "data.num_workers=0",
                 "validation.exact=never"]
        shutil.rmtree(work / "step_runs", ignore_errors=True)  # never resume an earlier bench run
        recipe = TrainRecipe(recipe_config(args, preset, data_root, work / "step_runs", extra))
        recipe.setup()
        networks = {"ours": ours_step(recipe)}
        if args.official_repo is not None:
            networks["official"] = official_step(args, recipe, amp, channels_last)
        for network, step in networks.items():
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            seconds = time_steps(step, args.repeats, cuda)
            if cuda and network == "ours":
                print(f"<!-- ours, {name}: host synchronisations in two steps: {host_syncs(step)} -->", flush=True)
            peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
            batch = recipe.config.schedule.batch_size
            rows[f"{network}/{name}"] = seconds
            print(f"| {network} | {name} | {seconds * 1e3:.1f} | {batch / seconds:.1f} | {peak:.1f} |", flush=True)
        recipe.cleanup()
        del recipe, networks
        if cuda:
            torch.cuda.empty_cache()
    return rows


# -------------------------------------------------------------------------------------------------------------- e2e


def bench_e2e(args, preset: dict, data_root: Path, work: Path) -> dict:
    """`obh train` in this process; the blocking seconds of validation and checkpoints measured around the calls."""
    run_dir = work / "e2e_runs"
    shutil.rmtree(run_dir, ignore_errors=True)
    steps = args.steps or preset["steps"]
    extra = [f"schedule.max_steps={steps}", f"schedule.schedule_steps={steps}",
             f"schedule.val_every={preset['val_every']}", f"schedule.checkpoint_every={preset['checkpoint_every']}",
             f"schedule.log_every={max(1, preset['val_every'] // 2)}"]
    recipe = TrainRecipe(recipe_config(args, preset, data_root, run_dir, extra))
    spent, calls = {"validation": 0.0, "checkpoint": 0.0}, {"validation": 0, "checkpoint": 0}

    def timed(kind, method):
        def wrapper(*a):
            began = time.perf_counter()
            method(*a)
            spent[kind] += time.perf_counter() - began
            calls[kind] += 1
        return wrapper

    began = time.perf_counter()
    recipe.setup()
    setup_s = time.perf_counter() - began
    recipe.validate = timed("validation", recipe.validate)
    recipe.save_checkpoint = timed("checkpoint", recipe.save_checkpoint)
    began = time.perf_counter()
    try:
        recipe.train()
    finally:
        recipe.cleanup()
    wall = time.perf_counter() - began
    config = recipe.config
    batch, validations = config.schedule.batch_size, calls["validation"]
    images = steps * batch
    val_frames = min(len(recipe.validator.dataset), config.validation.frames or 10**9) if recipe.validator else 0
    train_s = wall - spent["validation"] - spent["checkpoint"]
    per_validation_frame = spent["validation"] / max(validations * val_frames, 1)
    per_checkpoint = spent["checkpoint"] / max(calls["checkpoint"], 1)
    every, frames = preset["project_every"], preset["project_val_frames"]
    projected_extra = per_validation_frame * frames + per_checkpoint
    result = {
        "setup_s": setup_s, "wall_s": wall, "images_per_s": images / wall, "train_images_per_s": images / train_s,
        "validation_s": spent["validation"], "checkpoint_s": spent["checkpoint"],
        "validation_share": spent["validation"] / wall, "checkpoint_share": spent["checkpoint"] / wall,
        "validation_s_per_frame": per_validation_frame, "checkpoint_s_each": per_checkpoint,
        "projected_share": projected_extra / (every * train_s / steps + projected_extra),
        "steps": steps, "batch": batch, "validations": validations, "val_frames": val_frames,
        "loader_workers": config.data.num_workers, "amp": config.runtime.amp, "variant": config.model.variant,
        "device": str(recipe.device),
    }
    amp = config.runtime.amp if recipe.device.type == "cuda" else "none (CPU)"
    print(f"e2e `obh train` on {recipe.device} ({config.model.variant}, batch {batch}, {steps} steps, amp {amp}, "
          f"{config.data.num_workers} loader workers): {result['images_per_s']:.2f} images/s end to end "
          f"({result['train_images_per_s']:.2f} without validation and checkpoints); set-up {setup_s:.1f} s")
    print(f"  validation {spent['validation']:.1f} s ({validations} x {val_frames} frames, "
          f"{per_validation_frame:.3f} s per frame), checkpoints {spent['checkpoint']:.1f} s ({calls['checkpoint']}): "
          f"{100 * (result['validation_share'] + result['checkpoint_share']):.1f} % of wall time as measured; "
          f"projected to every {every} steps with {frames} frames: {100 * result['projected_share']:.2f} %",
          flush=True)
    return result


# ------------------------------------------------------------------------------------------------------- contention


def seconds_per_step(recipe: TrainRecipe, step, budget_s: float, steps: int) -> list[float]:
    times, began = [], time.perf_counter()
    while len(times) < steps and time.perf_counter() - began < budget_s:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def bench_contention(args, preset: dict, data_root: Path, work: Path) -> dict:
    """The demo recipe's step beside 0, 1, 2 busy processes; threads fixed at 2 vs adaptive (at most 2)."""
    results = {}
    print("| busy processes | threads | median s per step | steps timed | slowdown vs alone |\n|---|---|---|---|---|")
    for adapt in (False, True):
        extra = ["runtime.threads=2", f"runtime.adapt_threads={str(adapt).lower()}", "data.num_workers=0",
                 "validation.exact=never"]
        shutil.rmtree(work / "contention_runs", ignore_errors=True)
        recipe = TrainRecipe(recipe_config(args, preset, data_root, work / "contention_runs", extra))
        recipe.setup()
        step = ours_step(recipe)
        seconds_per_step(recipe, step, 60, 3)  # warm-up
        for busy in (0, 1, 2):
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
            try:
                time.sleep(1.5)  # the governor measures over intervals of 1 s
                times = seconds_per_step(recipe, step, args.contention_budget_s, 8)
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
            median = statistics.median(times[1:] if len(times) > 2 else times)
            results[(adapt, busy)] = median
            label = "adaptive (<= 2)" if adapt else "fixed 2"
            print(f"| {busy} | {label} | {median:.2f} | {len(times)} | "
                  f"{median / results[(adapt, 0)]:.1f}x |", flush=True)
        recipe.cleanup()
    return {f"{'adaptive' if a else 'fixed'}/{b}": v for (a, b), v in results.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu-demo")
    parser.add_argument("--work", type=Path, required=True, help="Synthetic frames and runs (kept, reused).")
    parser.add_argument("--sections", nargs="+", choices=["step", "e2e", "contention"])
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--variant", help="Another model variant than the preset's config.")
    parser.add_argument("--steps", type=int, help="Steps of the end-to-end run (default: the preset's).")
    parser.add_argument("--precisions", nargs="+", choices=sorted(PRECISION))
    parser.add_argument("--repeats", type=int, default=5, help="Steps per timing window.")
    parser.add_argument("--contention-budget-s", type=float, default=60.0)
    parser.add_argument("--official-repo", type=Path, help="A checkout of xul-ops/MoDOT (step section).")
    parser.add_argument("--official-extra-path", type=Path, nargs="*", default=[],
                        help="Folders put first on sys.path for the official code (bench/standins: mmcv, timm).")
    parser.add_argument("--override", nargs="*", default=[], help="More section.key=value for the runs.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args(argv)
    preset = PRESETS[args.preset]
    if args.device != "auto":
        args.override = [f"runtime.device={args.device}", *args.override]
    cuda = args.device != "cpu" and torch.cuda.is_available()
    sections = args.sections or (["step", "e2e"] if cuda else ["step", "e2e", "contention"])
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}\ncommand: {' '.join(sys.argv)}\n", flush=True)
    data_root = synthetic_root(args.work, preset)
    figures = {"machine": machine(), "preset": args.preset}
    for section in sections:
        if section == "contention" and cuda:
            continue
        figures[section] = {"step": bench_step, "e2e": bench_e2e, "contention": bench_contention}[section](
            args, preset, data_root, args.work)
        print(flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
