"""Benchmark the MoDOT variants: parameters, forward and forward+backward time, and (optionally) the official network.

    .venv/bin/python bench/bench_model.py                                   # tiny_w7 and large_w7 at 320x320, batch 2
    .venv/bin/python bench/bench_model.py --variants modot_swin_tiny_w7 --sizes 320x320 --batch 2 \\
        --official-repo /path/to/MoDOT --official-extra-path /path/to/stand-ins    # + official timings and numerics

CPU timings use one thread (`--threads`). Each figure is the median of `--repeats` runs after one warm-up, as
process CPU time (user + system: robust to other processes on a shared machine, and it includes the kernel's
page-fault work) and wall time. With `--official-repo`, the official network gets our weights (converted from its
own state dict), the outputs are compared in eval mode, and the two networks are timed alternately.
On a CUDA machine (or `--device cuda`) the GPU section times `modot_swin_large_w7` at 320x320, batch 8, fp32 and bf16
autocast with channels-last inputs, and reports peak memory and images/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.models import build_modot, get_variant
from training.official_checkpoints import convert_official_state_dict


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    malloc = {k: v for k, v in os.environ.items() if k.startswith(("MALLOC_", "THP_", "OMP_"))}
    return (f"{cpu}, {os.cpu_count()} logical CPUs; {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s); env {malloc or '{}'}")


def timed(step: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of `repeats` calls after one warm-up call."""
    step()
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        step()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


def _loss(depth: torch.Tensor, logits) -> torch.Tensor:
    return depth.float().mean() + sum(t.float().mean() for t in logits)


def ours_steps(model: torch.nn.Module, images: torch.Tensor) -> tuple[Callable[[], None], Callable[[], None]]:
    def forward() -> None:
        model.eval()
        with torch.no_grad():
            model(images)

    def forward_backward() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        out = model(images)
        _loss(out.depth, out.boundary_logits).backward()

    return forward, forward_backward


def official_steps(network: torch.nn.Module, images: torch.Tensor) -> tuple[Callable[[], None], Callable[[], None]]:
    from bench.official import official_outputs

    def forward() -> None:
        network.eval()
        with torch.no_grad():
            official_outputs(network, images)

    def forward_backward() -> None:
        network.train()
        network.zero_grad(set_to_none=True)
        depth, logits = official_outputs(network, images)
        _loss(depth, logits).backward()

    return forward, forward_backward


def compare_numerics(ours: torch.nn.Module, official: torch.nn.Module, images: torch.Tensor) -> dict[str, float]:
    """Max abs differences in eval mode: depth and each logit map."""
    from bench.official import official_outputs

    ours.eval()
    official.eval()
    with torch.no_grad():
        out = ours(images)
        depth, logits = official_outputs(official, images)
    diffs = {"depth": float((out.depth - depth).abs().max())}
    for i, (a, b) in enumerate(zip(out.boundary_logits, logits, strict=True)):
        diffs[f"logit{i}"] = float((a - b).abs().max())
    return diffs


def parameter_count(variant: str) -> tuple[int, int]:
    with torch.device("meta"):
        model = build_modot(variant, max_depth=10.0)
    return sum(p.numel() for p in model.parameters()), sum(p.numel() for p in model.parameters() if p.requires_grad)


def bench_cpu(args: argparse.Namespace) -> None:
    print("| variant | input | batch | params (trainable) | network | forward CPU s (wall) | fwd+bwd CPU s (wall) |")
    print("|---|---|---|---|---|---|---|")
    for variant in args.variants:
        total, trainable = parameter_count(variant)
        for size in args.sizes:
            torch.manual_seed(0)
            images = torch.randn(args.batch, 3, *size)
            networks = {"ours": build_modot(variant, max_depth=args.max_depth)}
            if args.official_repo is not None:
                from bench.official import build_official

                official = build_official(args.official_repo, variant, args.max_depth, args.official_extra_path)
                networks["ours"].load_state_dict(convert_official_state_dict(official.state_dict(), variant))
                networks["official"] = official
                diffs = compare_numerics(networks["ours"], official, images)
                print(f"<!-- {variant} {size}: max abs difference ours vs official (eval): "
                      + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()) + " -->")
            results = _time_alternately(networks, images, args)
            for name, (forward, forward_backward) in results.items():
                fwd = f"{forward[0]:.2f} ({forward[1]:.2f})" if forward else "-"
                fb = f"{forward_backward[0]:.2f} ({forward_backward[1]:.2f})" if forward_backward else "-"
                print(f"| {variant} | {size[0]}x{size[1]} | {args.batch} | {total:,} ({trainable:,}) | {name} "
                      f"| {fwd} | {fb} |", flush=True)
            if "official" in results and results["official"][1] and results["ours"][1]:
                print(f"<!-- fwd+bwd speed-up (CPU time): {results['official'][1][0] / results['ours'][1][0]:.2f}x, "
                      f"(wall): {results['official'][1][1] / results['ours'][1][1]:.2f}x -->")


def _time_alternately(networks: dict, images: torch.Tensor, args: argparse.Namespace) -> dict:
    """Time every network's forward and forward+backward, interleaving the networks repeat by repeat."""
    steps = {name: (official_steps if name == "official" else ours_steps)(net, images)
             for name, net in networks.items()}
    results = {name: [None, None] for name in networks}
    for index, mode in enumerate(("forward", "forward_backward")):
        if mode not in args.modes:
            continue
        samples = {name: [] for name in networks}
        for name in networks:
            steps[name][index]()  # warm-up
        for _ in range(args.repeats):
            for name in networks:
                samples[name].append(_once(steps[name][index]))
        for name, values in samples.items():
            results[name][index] = (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
    return results


def _once(step: Callable[[], None]) -> tuple[float, float]:
    c, w = time.process_time(), time.perf_counter()
    step()
    return time.process_time() - c, time.perf_counter() - w


def bench_gpu(args: argparse.Namespace) -> None:
    """modot_swin_large_w7 at 320x320, batch 8 on CUDA: fp32 and bf16 autocast, channels-last inputs."""
    device = torch.device("cuda")
    model = build_modot("modot_swin_large_w7", max_depth=args.max_depth).to(device, memory_format=torch.channels_last)
    images = torch.randn(8, 3, 320, 320, device=device).contiguous(memory_format=torch.channels_last)
    print("| precision | forward ms | fwd+bwd ms | images/s (fwd+bwd) | peak memory GiB |")
    print("|---|---|---|---|---|")
    for name, dtype in (("fp32", None), ("bf16 autocast", torch.bfloat16)):
        def step(train: bool, dtype=dtype) -> None:
            model.train(train)
            with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None), torch.set_grad_enabled(train):
                out = model(images)
                if train:
                    model.zero_grad(set_to_none=True)
                    _loss(out.depth, out.boundary_logits).backward()
            torch.cuda.synchronize()

        torch.cuda.reset_peak_memory_stats()
        forward = timed(lambda: step(False), args.repeats)[1]
        forward_backward = timed(lambda: step(True), args.repeats)[1]
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(f"| {name} | {forward * 1e3:.0f} | {forward_backward * 1e3:.0f} | {8 / forward_backward:.1f} "
              f"| {peak:.1f} |", flush=True)


def _size(text: str) -> tuple[int, int]:
    height, width = text.lower().split("x")
    return int(height), int(width)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["modot_swin_tiny_w7", "modot_swin_large_w7"])
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(320, 320)], help="HxW, e.g. 320x320")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-depth", type=float, default=10.0)
    parser.add_argument("--modes", nargs="+", default=["forward", "forward_backward"],
                        choices=["forward", "forward_backward"])
    parser.add_argument("--official-repo", type=Path, default=None, help="a checkout of xul-ops/MoDOT")
    parser.add_argument("--official-extra-path", type=Path, nargs="*", default=[],
                        help="folders to put on sys.path first (timm / mmcv stand-ins)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="cpu: CPU section only; cuda: GPU section only; auto: CPU, then GPU when one is present")
    args = parser.parse_args(argv)
    for variant in args.variants:
        get_variant(variant)
    torch.set_num_threads(args.threads)
    print(f"machine: {machine_description()}")
    print(f"command: {' '.join(sys.argv)}\n")
    if args.device in ("auto", "cpu"):
        bench_cpu(args)
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        print()
        bench_gpu(args)
    elif args.device == "auto":
        print("\nGPU section skipped: no CUDA device.")


if __name__ == "__main__":
    main()
