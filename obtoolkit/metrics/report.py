"""Evaluation outputs people can read: metrics JSON, per-image CSV, PR-curve PNG, HTML report with pictures.

Every file is written atomically (obtoolkit.fileio). Pictures: the prediction, the GT and a matches picture at the
image's best threshold (green: matched prediction, red: unmatched prediction, blue: missed GT).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from obtoolkit.fileio import atomic_path, atomic_write_bytes, atomic_write_text
from obtoolkit.metrics.evaluators import BoundaryEvaluation, ImageBoundaryRow


def _json_number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics_json(path: str | Path, evaluation: BoundaryEvaluation, extra: dict | None = None) -> None:
    """Write the dataset numbers, the curve, the options and `extra` (provenance) as JSON (NaN -> null)."""
    data = {
        "boundary": {k: _json_number(v) for k, v in evaluation.boundary.as_dict().items()},
        "curve": {"threshold": evaluation.boundary.curve[:, 0].tolist(),
                  "recall": evaluation.boundary.curve[:, 1].tolist(),
                  "precision": evaluation.boundary.curve[:, 2].tolist(),
                  "f": evaluation.boundary.curve[:, 3].tolist()},
        "options": dataclasses.asdict(evaluation.options),
    }
    if evaluation.opr is not None:
        data["opr"] = {k: _json_number(v) for k, v in evaluation.opr.as_dict().items()}
    data.update(extra or {})
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def write_per_image_csv(path: str | Path, rows: Sequence[ImageBoundaryRow]) -> None:
    """One line per image: name, best threshold, R, P, F, GT pixels, predicted pixels at the best threshold."""
    buffer = io.StringIO()
    fields = [f.name for f in dataclasses.fields(ImageBoundaryRow)]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in dataclasses.asdict(row).items()})
    atomic_write_text(path, buffer.getvalue())


def plot_pr_curve(path: str | Path, curves: dict[str, np.ndarray], ods: dict[str, tuple[float, float]]) -> None:
    """Precision-recall plot with iso-F lines.

    Args:
        curves: {label: (K, >= 3) array with columns [threshold, recall, precision, ...]}.
        ods: {label: (recall, precision)} of the ODS point to mark.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 5), dpi=120)
    axes = figure.add_subplot()
    r = np.linspace(0.01, 1, 200)
    for f in np.arange(0.1, 1.0, 0.1):
        p = f * r / (2 * r - f)
        keep = (p > 0) & (p <= 1)
        axes.plot(r[keep], p[keep], color="0.85", linewidth=0.7)
    for label, curve in curves.items():
        line = axes.plot(curve[:, 1], curve[:, 2], linewidth=1.8, label=label)[0]
        if label in ods:
            axes.plot(*ods[label], "o", color=line.get_color())
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="Recall", ylabel="Precision", title="Boundary precision-recall")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")


def _png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def gray_picture(values: np.ndarray) -> np.ndarray:
    """(H, W) uint8 picture of a map in [0, 1] (or bool), white = boundary on black."""
    return np.clip(np.asarray(values, dtype=np.float64) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def matches_picture(pred_matched: np.ndarray, pred_unmatched: np.ndarray, gt_missed: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: green matched predictions, red unmatched predictions, blue missed GT, on black."""
    picture = np.zeros((*pred_matched.shape, 3), dtype=np.uint8)
    picture[gt_missed] = (60, 110, 255)
    picture[pred_unmatched] = (255, 40, 40)
    picture[pred_matched] = (40, 220, 40)
    return picture


@dataclasses.dataclass(frozen=True)
class ImagePictures:
    """Pictures of one image for the report: (H, W[, 3]) uint8 arrays; rgb may be None."""

    name: str
    prediction: np.ndarray
    ground_truth: np.ndarray
    matches: np.ndarray
    rgb: np.ndarray | None = None


def write_html_report(out_dir: str | Path, evaluation: BoundaryEvaluation, pictures: Sequence[ImagePictures],
                      *, title: str = "Boundary evaluation", pr_curve_file: str = "pr_curve.png") -> Path:
    """Write `report.html` and its pictures under `out_dir/report_images/`; return the HTML path.

    `pictures` are shown in the order given (the caller picks the worst and best images).
    """
    out_dir = Path(out_dir)
    rows_by_name = {row.name: row for row in evaluation.per_image}
    result = evaluation.boundary.as_dict()
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
             "img{max-width:300px;margin:2px;image-rendering:pixelated}figure{display:inline-block;margin:4px}"
             "</style></head><body>", f"<h1>{html.escape(title)}</h1>", "<table><tr>"]
    parts += [f"<th>{html.escape(k)}</th>" for k in result]
    parts.append("</tr><tr>")
    parts += [f"<td>{v:.4f}</td>" if isinstance(v, float) else f"<td>{v}</td>" for v in result.values()]
    parts.append("</tr></table>")
    parts.append(f"<p>Options: {html.escape(json.dumps(dataclasses.asdict(evaluation.options)))}</p>")
    parts.append(f"<img src='{html.escape(pr_curve_file)}' alt='PR curve' style='max-width:420px'>")
    parts.append("<p>Matches at each image's best threshold: green matched prediction, red unmatched prediction, "
                 "blue missed ground truth.</p>")
    for pics in pictures:
        row = rows_by_name.get(pics.name)
        caption = pics.name if row is None else (f"{pics.name}: F {row.best_f:.3f} (R {row.best_recall:.3f}, "
                                                 f"P {row.best_precision:.3f}, t {row.best_threshold:.2f})")
        parts.append(f"<h3>{html.escape(caption)}</h3>")
        named = [("rgb", pics.rgb), ("prediction", pics.prediction), ("ground truth", pics.ground_truth),
                 ("matches", pics.matches)]
        for label, image in named:
            if image is None:
                continue
            file = f"report_images/{_safe(pics.name)}_{label.replace(' ', '_')}.png"
            atomic_write_bytes(out_dir / file, _png_bytes(image))
            parts.append(f"<figure><img src='{html.escape(file)}' alt='{label}'>"
                         f"<figcaption>{label}</figcaption></figure>")
    parts.append("</body></html>")
    path = out_dir / "report.html"
    atomic_write_text(path, "\n".join(parts))
    return path


def _safe(name: str) -> str:
    """A file-name-safe form of an image name, distinct for distinct names: when characters had to be replaced
    (or the name shortened), a digest of the original name is appended ("a b" and "a_b" no longer collide)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:100]
    if cleaned != name:
        cleaned += "-" + hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
    return cleaned


def worst_and_best(rows: Sequence[ImageBoundaryRow], n: int) -> list[str]:
    """Names of the n worst then the n best images by their best F (ties by name), without repeats."""
    ordered = sorted(rows, key=lambda row: (row.best_f, row.name))
    names = [row.name for row in ordered[:n]]
    names += [row.name for row in reversed(ordered[-n:]) if row.name not in names]
    return names
