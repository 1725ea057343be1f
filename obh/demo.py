"""`obh demo`: the bundled end-to-end run on synthetic data.

synth -> generate (labels) -> validate -> manifest stats -> agreement with the meshes' reference boundaries ->
train a compact MoDOT on the CPU (configs/demo_cpu.yaml) -> evaluate it against an untrained one on the test split
-> a report folder with pictures. Everything goes through the same functions as the individual commands; the output
folder holds the synthetic Hypersim tree, the labelled OB-Hypersim tree with its manifest, the training run and the
report (`report/index.html`).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np
import torch

DEMO_HEIGHT, DEMO_WIDTH, DEMO_SCENES, DEMO_FRAMES, DEMO_SEED = 192, 256, 4, 4, 0
DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo_cpu.yaml"


def run_demo(out_dir: Path | None, *, train_steps: int | None = None) -> Path:
    """Run every step into `out_dir` (a new temporary folder when None); returns the report's index page.

    `train_steps` overrides the demo config's number of training steps (the tests use a handful).
    """
    out = Path(tempfile.mkdtemp(prefix="obh_demo_")) if out_dir is None else Path(out_dir)
    start = time.perf_counter()
    hypersim, labels = out / "hypersim", out / "ob_hypersim"
    _step(f"1/7 synthetic Hypersim scenes ({DEMO_SCENES} x {DEMO_WIDTH}x{DEMO_HEIGHT}) -> {hypersim}")
    from obtoolkit.synth.generate import make_synthetic_dataset

    scenes = make_synthetic_dataset(hypersim, scenes=DEMO_SCENES, frames=DEMO_FRAMES, seed=DEMO_SEED,
                                    height=DEMO_HEIGHT, width=DEMO_WIDTH)
    _step(f"2/7 occlusion-boundary labels -> {labels}")
    from obhypersim_build.run import generate

    summary = generate(hypersim, labels, jobs=1)
    click.echo(f"    {summary.n_ok} frames ok, {summary.n_failed} failed, {summary.frames_per_second:.1f} frames/s")
    _step("3/7 validation")
    _validate(labels, hypersim)
    _step("4/7 manifest statistics and agreement with the mesh reference")
    from obhypersim_build.manifest_tools import format_stats, manifest_frame, stats_tables

    click.echo(format_stats(stats_tables(manifest_frame(summary.manifest_path))))
    _agreement(hypersim)
    report = out / "report"
    _contact_sheet(hypersim, labels, scenes, report)
    _step("5/7 training a compact MoDOT on the CPU (configs/demo_cpu.yaml)")
    run_dir = _train(labels, out, train_steps)
    _step("6/7 evaluation on the test split: trained vs untrained")
    results = _evaluate(run_dir, labels, report)
    _step("7/7 report")
    index = _report(report, results, run_dir)
    click.echo(f"done in {time.perf_counter() - start:.0f} s; report: {index}")
    return index


def _step(text: str) -> None:
    click.secho(text, bold=True)


def _validate(labels: Path, hypersim: Path) -> None:
    from obhypersim_build.validate_tree import validate_tree, write_report

    summary = validate_tree(labels, hypersim_root=hypersim, progress=False)
    write_report(summary, labels / "validation_report.json")
    flagged = sorted({c.name for r in summary.reports for c in r.warnings})
    click.echo(f"    {len(summary.reports)} frames checked, {summary.n_failed} failed; warnings: "
               f"{', '.join(flagged) or 'none'}; report: {labels / 'validation_report.json'}")


def _agreement(hypersim: Path) -> None:
    """Default labels against the reference computed from the meshes (the label issue's acceptance measure)."""
    from obtoolkit.boundaries import LabelParams, compute_labels
    from obtoolkit.hypersim import HypersimLayout, iter_frames, read_camera_parameters, read_frame_geometry
    from obtoolkit.synth import read_reference
    from obtoolkit.synth.agreement import Agreement

    layout, params, agreement = HypersimLayout(hypersim), LabelParams(), Agreement()
    cameras = read_camera_parameters(layout.camera_parameters_csv)
    for frame in iter_frames(hypersim):
        g = read_frame_geometry(layout, frame, camera=cameras.camera(frame.scene))
        labels = compute_labels(g, params)
        agreement.update(labels.order, labels.ob, labels.theta, read_reference(hypersim, frame),
                         np.where(g.valid_mask, g.distance_m, np.nan), params.tie_eps_rel, include_void=False)
    summary = agreement.summary()
    click.echo("    labels vs mesh reference (1 px): " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))


def _contact_sheet(hypersim: Path, labels: Path, scenes: list[str], out: Path) -> Path:
    """Labels of the first frame of each scene: RGB, labels, orientation, arrows, depth, normals, ids, reference."""
    from obhypersim_build.pictures import frame_tiles
    from obtoolkit.hypersim import HypersimLayout, list_cameras, list_frames, read_frame_geometry
    from obtoolkit.synth.reference import read_reference
    from obtoolkit.viz import boundary_overlay, contact_sheet, ids_to_rgb, normals_to_rgb, save_png

    layout, tiles = HypersimLayout(hypersim), []
    for scene in scenes:
        frame = list_frames(hypersim, scene, list_cameras(hypersim, scene)[0])[0]
        geometry = read_frame_geometry(layout, frame)
        label_tiles = frame_tiles(labels, frame)
        rgb = label_tiles[0][1]
        tiles += label_tiles + [
            ("normal_cam", normals_to_rgb(geometry.normal_cam, geometry.valid_mask)),
            ("semantic_instance", ids_to_rgb(geometry.semantic_instance, invalid_below=1)),
            ("mesh reference OBs", boundary_overlay(rgb, read_reference(hypersim, frame).occluder_class())),
        ]
    return save_png(out / "labels.png", contact_sheet(tiles, columns=8))


def _train(labels: Path, out: Path, train_steps: int | None) -> Path:
    from training.config import load_train_config
    from training.run_log import read_log
    from training.train import train

    overrides = [f"data.root={labels}", f"run_dir={out / 'runs'}"]
    if train_steps is not None:
        overrides += [f"schedule.max_steps={train_steps}", f"schedule.val_every={train_steps}",
                      f"schedule.checkpoint_every={train_steps}", "schedule.log_every=1"]
    run_dir = train(load_train_config(DEMO_CONFIG, overrides))
    records = read_log(run_dir, "train")
    first, last = records[0], records[-1]
    click.echo(f"    depth loss {first['loss_depth']:.3f} -> {last['loss_depth']:.3f}, boundary loss "
               f"{first['loss_boundary']:.3f} -> {last['loss_boundary']:.3f} over {last['step']} steps; run: {run_dir}")
    return run_dir


def _evaluate(run_dir: Path, labels: Path, report: Path) -> dict:
    """Evaluate the trained checkpoint and an untrained model of the same variant on the test split; each gets the
    `obh evaluate` outputs and HTML report under report/<name>/, and the trained model's varied frames are drawn in
    report/predictions.png (one depth range, colour bars)."""
    from obtoolkit.viz import save_png
    from training.checkpoints import load_model_checkpoint
    from training.data import DataConfig, ObHypersimDataset
    from training.evaluate import EvalOptions, evaluate_model, write_evaluation
    from training.evaluate_run import default_metric_workers, share_cpu_with_metric_workers
    from training.models import build_modot
    from training.pictures import frames_sheet
    from training.report import write_evaluation_report

    trained, info = load_model_checkpoint(run_dir / "checkpoints" / "last.pt")
    with torch.random.fork_rng():  # the same untrained baseline whatever training drew
        torch.manual_seed(DEMO_SEED)
        untrained = build_modot(info.variant, max_depth=info.max_depth)
    dataset = ObHypersimDataset(DataConfig(root=labels, split="test", depth_scale=info.depth_unit_m, augment=None))
    results, workers = {}, default_metric_workers()
    share_cpu_with_metric_workers(workers)
    options, cpu = EvalOptions(metric_workers=workers), torch.device("cpu")
    for name, model in (("trained", trained), ("untrained", untrained)):
        result = evaluate_model(model, dataset, device=cpu, depth_unit_m=info.depth_unit_m, options=options)
        write_evaluation(result, report / name, extra={"model": name, "checkpoint": str(run_dir)})
        write_evaluation_report(model, dataset, result, report / name, device=cpu, options=options,
                                depth_unit_m=info.depth_unit_m, title=f"obh demo: the {name} model on the test split")
        results[name] = result
        summary = result.summary()
        click.echo(f"    {name:>9}: AbsRel {summary['depth/abs_rel']:.3f}, delta1 {summary['depth/delta1']:.3f}, "
                   f"boundary ODS F {summary['boundary/ods_f']:.3f}, AP {summary['boundary/ap']:.3f} "
                   f"({result.seconds:.0f} s)")
    save_png(report / "predictions.png", frames_sheet(results["trained"].pictures, depth_unit_m=info.depth_unit_m))
    return results


_PAGE_STYLE = ("<style>body{font-family:sans-serif;margin:2em;max-width:1400px}td,th{padding:2px 8px}"
               ".swatch{display:inline-block;width:1em;height:1em;margin-right:.5em;vertical-align:middle;"
               "border:1px solid #555}ul.legend{list-style:none;padding-left:0}</style>")


def _report(report: Path, results: dict, run_dir: Path) -> Path:
    """report/index.html: the numbers (trained vs untrained), training curves, PR curves, predictions of varied
    frames with colour bars, the labels with a legend of their classes, and links to the evaluation reports."""
    from html import escape

    from obhypersim_build.pictures import LABEL_COLORS, LABEL_NAMES
    from obtoolkit.fileio import atomic_write_text
    from obtoolkit.metrics.report import plot_pr_curve
    from obtoolkit.viz import DEPTH_CMAP, SIGNED_ERROR_CMAP
    from training.report import plot_training_curves
    from training.run_log import read_log

    curves = {name: r.boundary.boundary.curve for name, r in results.items()}
    ods = {name: (r.boundary.boundary.ods.recall, r.boundary.boundary.ods.precision) for name, r in results.items()}
    plot_pr_curve(report / "pr_curves.png", curves, ods)
    plot_training_curves(read_log(run_dir), report / "training_curves.png")
    rows = "".join(
        f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{value:.3f}</td>" for value in (
            s["depth/abs_rel"], s["depth/rmse_m"], s["depth/delta1"], s["boundary/ods_f"], s["boundary/ois_f"],
            s["boundary/ap"])) + f"<td><a href='{escape(name)}/report/index.html'>report</a></td></tr>"
        for name, s in ((n, r.summary()) for n, r in results.items()))
    shown = ", ".join(escape(p.name) for p in results["trained"].pictures)
    legend = "".join(f"<li><span class='swatch' style='background:rgb{tuple(color)}'></span>"
                     f"{escape(LABEL_NAMES[value])}</li>" for value, color in LABEL_COLORS.items())
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>obh demo</title>" + _PAGE_STYLE + "</head><body>"
        "<h1>obh demo</h1><h2>Test split: trained vs untrained</h2><table border=1><tr><th>model</th>"
        "<th>AbsRel</th><th>RMSE (m)</th><th>&delta;1</th><th>ODS F</th><th>OIS F</th><th>AP</th>"
        "<th>per-frame report</th></tr>" + rows + "</table>"
        f"<h2>Training</h2><p>Losses and validation numbers from {escape(str(run_dir / 'log.jsonl'))}.</p>"
        "<img src='training_curves.png' alt='training curves' style='max-width:100%'>"
        "<h2>Boundary precision-recall</h2><img src='pr_curves.png' alt='PR curves'>"
        f"<h2>Predictions of the trained model</h2><p>Frames spread over the scenes and cameras of the test split: "
        f"{shown}. "
        f"Depth in {DEPTH_CMAP} on one range for every frame, the error (p - g) / g in {SIGNED_ERROR_CMAP} "
        "(blue: predicted too near, red: too far); grey: no valid ground truth. Colour bars under the rows; "
        "the same colour map as <code>obh predict</code>.</p>"
        "<img src='predictions.png' alt='predictions' style='max-width:100%'>"
        "<h2>Labels (generated, and the mesh reference)</h2><p>The first frame of each scene. Boundary colours:</p>"
        f"<ul class='legend'>{legend}</ul><p>Orientation: hue = the boundary's tangent angle (colour wheel in the "
        "corner); arrows point from the occluder to the occluded side. Depth in metres, " + DEPTH_CMAP + ".</p>"
        "<img src='labels.png' alt='labels' style='max-width:100%'>"
        "<p>Metrics per model: trained/metrics.json, untrained/metrics.json.</p></body></html>")
    atomic_write_text(report / "index.html", page)
    return report / "index.html"
