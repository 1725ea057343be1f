"""`obh demo`: the bundled end-to-end run on synthetic data.

synth -> generate (labels) -> validate -> manifest stats -> agreement with the meshes' reference boundaries ->
pictures. Everything goes through the same functions as the individual commands; the output folder holds the
synthetic Hypersim tree, the labelled OB-Hypersim tree with its manifest, the validation report and the pictures.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np

DEMO_HEIGHT, DEMO_WIDTH, DEMO_SCENES, DEMO_FRAMES, DEMO_SEED = 192, 256, 2, 2, 0


def run_demo(out_dir: Path | None) -> Path:
    """Run every step into `out_dir` (a new temporary folder when None); returns the contact sheet's path."""
    out = Path(tempfile.mkdtemp(prefix="obh_demo_")) if out_dir is None else Path(out_dir)
    start = time.perf_counter()
    hypersim, labels = out / "hypersim", out / "ob_hypersim"
    _step(f"1/5 synthetic Hypersim scenes ({DEMO_SCENES} x {DEMO_WIDTH}x{DEMO_HEIGHT}) -> {hypersim}")
    from obtoolkit.synth.generate import make_synthetic_dataset

    scenes = make_synthetic_dataset(hypersim, scenes=DEMO_SCENES, frames=DEMO_FRAMES, seed=DEMO_SEED,
                                    height=DEMO_HEIGHT, width=DEMO_WIDTH)
    _step(f"2/5 occlusion-boundary labels -> {labels}")
    from obhypersim_build.run import generate

    summary = generate(hypersim, labels, jobs=1)
    click.echo(f"    {summary.n_ok} frames ok, {summary.n_failed} failed, {summary.frames_per_second:.1f} frames/s")
    _step("3/5 validation")
    _validate(labels, hypersim)
    _step("4/5 manifest statistics and agreement with the mesh reference")
    from obhypersim_build.manifest_tools import format_stats, manifest_frame, stats_tables

    click.echo(format_stats(stats_tables(manifest_frame(summary.manifest_path))))
    _agreement(hypersim)
    _step("5/5 pictures")
    sheet = _contact_sheet(hypersim, labels, scenes, out)
    click.echo(f"done in {time.perf_counter() - start:.0f} s; contact sheet: {sheet}")
    return sheet


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
    from obtoolkit.boundaries import FrameInputs, LabelParams, compute_labels
    from obtoolkit.hypersim import HypersimLayout, iter_frames, read_camera_parameters, read_frame_geometry
    from obtoolkit.synth import read_reference
    from obtoolkit.synth.agreement import Agreement

    layout, params, agreement = HypersimLayout(hypersim), LabelParams(), Agreement()
    cameras = read_camera_parameters(layout.camera_parameters_csv)
    for frame in iter_frames(hypersim):
        g = read_frame_geometry(layout, frame)
        inputs = FrameInputs(g.distance_m, g.valid_mask, cameras.camera(frame.scene).M_cam_from_uv, g.normal_cam,
                             g.semantic, g.semantic_instance, g.render_entity_id)
        labels = compute_labels(inputs, params)
        agreement.update(labels.order, labels.ob, labels.theta, read_reference(hypersim, frame),
                         np.where(g.valid_mask, g.distance_m, np.nan), params.tie_eps_rel, include_void=False)
    summary = agreement.summary()
    click.echo("    labels vs mesh reference (1 px): " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))


def _contact_sheet(hypersim: Path, labels: Path, scenes: list[str], out: Path) -> Path:
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
    return save_png(out / "contact_sheet.png", contact_sheet(tiles, columns=8))
