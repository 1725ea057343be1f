"""Commands about evaluation: boundary maps made by any method (`evaluate-maps`)."""

from __future__ import annotations

from pathlib import Path

import click

from obh.options import emit, jobs_option, json_option, out_option


@click.command("evaluate-maps")
@click.argument("pred_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("gt_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@out_option(param="out_dir", default=Path("eval_maps"),
            help="Folder for metrics.json, per_image.csv, pr_curve.png and report.html.")
@click.option("--protocol", type=click.Choice(["bsds", "occlusion"]), default="occlusion", show_default=True,
              help="bsds: thin every thresholded map, no NMS; occlusion: NMS once, no thinning.")
@click.option("--max-dist", type=float, default=0.0075, show_default=True,
              help="Matching radius as a fraction of the image diagonal (NYUD convention: 0.011).")
@click.option("--thresholds", "n_thresholds", type=click.IntRange(min=1), default=99, show_default=True,
              help="Number of thresholds, linspace(1/(K+1), 1-1/(K+1), K).")
@click.option("--nms/--no-nms", "apply_nms", default=None,
              help="Force edge NMS on or off (default: on for occlusion, off for bsds).")
@click.option("--nms-presmooth", type=click.IntRange(min=0, max=1), default=0, show_default=True,
              help="1: smooth with conv_tri(E, 1) before NMS (HED/pdollar Python ports).")
@click.option("--invert", is_flag=True, help="Maps store (1 - p) * 255 (MoDOT/IOBE `_ob.png` convention).")
@click.option("--pred-suffix", default=".png", show_default=True, help="Prediction file = <GT stem><suffix>.")
@click.option("--rgb-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Optional folder of RGB images (<GT stem><rgb-suffix>) shown in the report.")
@click.option("--rgb-suffix", default=".jpg", show_default=True)
@jobs_option(default=-1, help="Worker processes, one image and one thread each.", param="n_jobs")
@click.option("--fixed-threshold", "fixed_thresholds", type=click.FloatRange(0, 1), multiple=True,
              default=(0.5, 0.7), show_default=True,
              help="Thresholds of the fixed-threshold P/R/F (tolerance-matched and pixel-wise); repeat the option.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None,
              help="Largest map accepted, in pixels (default: 16777216 = 4096x4096); larger maps are refused "
                   "before they are decoded.")
@json_option
def evaluate_maps(pred_dir: Path, gt_dir: Path, out_dir: Path, protocol: str, max_dist: float, n_thresholds: int,
                  apply_nms: bool | None, nms_presmooth: int, invert: bool, pred_suffix: str, rgb_dir: Path | None,
                  rgb_suffix: str, n_jobs: int, fixed_thresholds: tuple[float, ...], max_pixels: int | None) -> None:
    """Score boundary PNGs in PRED_DIR against ground truth in GT_DIR (PNG or BSDS .mat): ODS, OIS, AP, R50, and
    P/R/F at fixed thresholds."""
    from obtoolkit.metrics import maps_io
    from obtoolkit.metrics.boundary import BoundaryEvalOptions
    from obtoolkit.metrics.evaluate_maps import MapsJob
    from obtoolkit.metrics.evaluate_maps import evaluate_maps as run

    options = BoundaryEvalOptions(protocol=protocol, n_thresholds=n_thresholds, max_dist=max_dist,
                                  apply_nms=apply_nms, nms_presmooth_radius=nms_presmooth)
    job = MapsJob(pred_dir, gt_dir, out_dir, invert=invert, pred_suffix=pred_suffix, rgb_dir=rgb_dir,
                  rgb_suffix=rgb_suffix, max_pixels=max_pixels or maps_io.MAX_MAP_PIXELS)
    maps = run(job, options, n_jobs=n_jobs, progress=True, fixed_thresholds=fixed_thresholds)
    result = maps.boundary

    def text() -> str:
        lines = [f"ODS F {result.ods.f_measure:.4f} (R {result.ods.recall:.4f}, P {result.ods.precision:.4f}, "
                 f"t {result.ods.threshold:.3f})  OIS F {result.ois_f:.4f}  AP {result.ap:.4f}  "
                 f"R50 {result.r50:.4f}  images {result.n_images}"]
        scores = maps.fixed_threshold
        for threshold in fixed_thresholds:
            matched = (f"tolerance P {scores[f'boundary/precision@{threshold:g}']:.4f} "
                       f"R {scores[f'boundary/recall@{threshold:g}']:.4f} F {scores[f'boundary/f@{threshold:g}']:.4f}"
                       if f"boundary/f@{threshold:g}" in scores else "tolerance: not a threshold of the curve")
            lines.append(f"t {threshold:g}: {matched}  "
                         f"pixel-wise P {scores[f'boundary_pixel/precision@{threshold:g}']:.4f} "
                         f"R {scores[f'boundary_pixel/recall@{threshold:g}']:.4f} "
                         f"F1 {scores[f'boundary_pixel/f1@{threshold:g}']:.4f}")
        lines.append(f"wrote {out_dir}/metrics.json, per_image.csv, pr_curve.png, report.html")
        return "\n".join(lines)

    emit({"ods": {"f": result.ods.f_measure, "recall": result.ods.recall, "precision": result.ods.precision,
                  "threshold": result.ods.threshold}, "ois_f": result.ois_f, "ap": result.ap, "r50": result.r50,
          "images": result.n_images, "fixed_threshold": maps.fixed_threshold, "out": out_dir}, text)


COMMANDS = [evaluate_maps]
