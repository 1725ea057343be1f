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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from obtoolkit.fileio import atomic_path, atomic_write_bytes, atomic_write_text
from obtoolkit.metrics.boundary import BoundaryEvalOptions, binary_map
from obtoolkit.metrics.cardinality import maximum_matching
from obtoolkit.metrics.disk import matching_radius_px
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


def match_picture(pred_prob: np.ndarray, gt_boundary: np.ndarray, threshold: float,
                  options: BoundaryEvalOptions) -> np.ndarray:
    """`matches_picture` of a probability map at one threshold, binarised exactly as the benchmark does (NMS,
    thinning) and matched one-to-one within `options.max_dist`: uint8 (H, W, 3).

    The pairs come from a maximum matching (`cardinality.maximum_matching`): exactly as many as the benchmark counts,
    fast on any map; where several pixels are equally good it may colour another one than the min-cost matching
    (`match_maps`) would."""
    binary = binary_map(pred_prob, threshold, options)
    radius = matching_radius_px(*binary.shape, options.max_dist)
    pred_matched, gt_matched = maximum_matching(binary, gt_boundary, radius)
    return matches_picture(pred_matched, binary & ~pred_matched, gt_boundary & ~gt_matched)


@dataclasses.dataclass(frozen=True)
class ImagePictures:
    """Pictures of one image for the report: (H, W[, 3]) uint8 arrays; a None picture is not shown (rgb; the
    boundary pictures of a report without a boundary benchmark); extra: more captioned pictures (depth, depth
    error, ...); reason: why it is shown ("worst F", ...)."""

    name: str
    prediction: np.ndarray | None
    ground_truth: np.ndarray | None
    matches: np.ndarray | None
    rgb: np.ndarray | None = None
    extra: tuple[tuple[str, np.ndarray], ...] = ()
    reason: str = ""


# Click a column's header to sort the per-image table by it (numbers by value, text by name); click again: reverse.
_SORT_SCRIPT = """<script>
function sortBy(th) {
  const body = th.closest('table').tBodies[0], col = th.cellIndex, up = th.dataset.up !== '1';
  th.dataset.up = up ? '1' : '0';
  const key = r => { const v = r.cells[col].dataset.v; const x = parseFloat(v); return isNaN(x) ? v : x; };
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = key(a), y = key(b);
    const c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
    return up ? c : -c;
  });
  rows.forEach(r => body.appendChild(r));
}
</script>"""
_STYLE = ("<style>body{font-family:sans-serif;margin:2em;max-width:1400px}td,th{padding:2px 8px;text-align:right}"
          "th.sort{cursor:pointer;text-decoration:underline dotted}td.name{text-align:left}"
          "img{max-width:300px;margin:2px;image-rendering:pixelated}figure{display:inline-block;margin:4px;"
          "vertical-align:top}figcaption{font-size:90%}.scroll{max-height:30em;overflow-y:auto;display:inline-block;"
          "border:1px solid #ccc}.legend img{max-width:none}.numbers{display:flex;flex-wrap:wrap;gap:4px 18px}"
          ".number{text-align:right}</style>")


def write_html_report(out_dir: str | Path, evaluation: BoundaryEvaluation | None, pictures: Sequence[ImagePictures],
                      *, title: str = "Boundary evaluation", pr_curve_file: str = "pr_curve.png",
                      depth_rows: Sequence[Mapping[str, Any]] | None = None, summary: Mapping[str, float] | None = None,
                      legends: Sequence[tuple[str, np.ndarray]] = (), file_name: str = "report.html",
                      image_dir: str = "report_images") -> Path:
    """Write `file_name` and its pictures under `out_dir/image_dir/`; return the HTML path.

    The page: the headline numbers (`summary` when given, else the boundary numbers), the PR curve, the per-image
    table (boundary F, R, P, threshold; AbsRel, RMSE, delta1 when `depth_rows` are given), sortable by any column
    with a click (inline script, no external assets), then `pictures` in the order given (the caller picks the
    worst and best images) after the `legends` (captioned colour bars). Every name is HTML-escaped and file names
    are made safe (`_safe`).

    evaluation None (no boundary benchmark: a depth-only model, a dataset without boundary ground truth): no
    options line and no PR curve, and the per-image table holds the `depth_rows` (frame, AbsRel, RMSE, delta1).
    """
    out_dir = Path(out_dir)
    rows_by_name = {row.name: row for row in evaluation.per_image} if evaluation is not None else {}
    depth_by_name = {str(row["name"]): row for row in depth_rows or ()}
    if summary is not None:
        numbers = dict(summary)
    else:
        numbers = evaluation.boundary.as_dict() if evaluation is not None else {}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>", _STYLE,
             _SORT_SCRIPT, "</head><body>", f"<h1>{html.escape(title)}</h1>", _numbers_table(numbers)]
    if evaluation is not None:
        parts += [f"<p>Options: {html.escape(json.dumps(dataclasses.asdict(evaluation.options)))}</p>",
                  f"<img src='{html.escape(pr_curve_file)}' alt='PR curve' style='max-width:420px'>",
                  _per_image_table(evaluation.per_image, depth_by_name)]
    else:
        parts.append(_depth_table(depth_rows or ()))
    if pictures and evaluation is not None:
        parts.append("<h2>Worst and best frames</h2><p>Matches at each image's best threshold: green matched "
                     "prediction, red false positive (unmatched prediction), blue missed ground truth.</p>")
    elif pictures:
        parts.append("<h2>Worst and best frames</h2><p>By AbsRel; no boundary benchmark ran, so no boundary "
                     "matches are shown.</p>")
    for label, image in legends:
        file = f"{image_dir}/legend_{_safe(label)}.png"
        atomic_write_bytes(out_dir / file, _png_bytes(image))
        parts.append(f"<figure class='legend'><img src='{html.escape(file)}' alt='{html.escape(label)}'>"
                     f"<figcaption>{html.escape(label)}</figcaption></figure>")
    for pics in pictures:
        parts.append(_picture_block(out_dir, image_dir, pics, rows_by_name.get(pics.name),
                                    depth_by_name.get(pics.name)))
    parts.append("</body></html>")
    path = out_dir / file_name
    atomic_write_text(path, "\n".join(parts))
    return path


def _numbers_table(numbers: Mapping[str, Any]) -> str:
    """The headline numbers as name-over-value boxes that wrap with the page width."""
    boxes = "".join(f"<div class='number'><b>{html.escape(str(k))}</b><br>{_shown(v)}</div>"
                    for k, v in numbers.items())
    return f"<div class='numbers'>{boxes}</div>"


_DEPTH_COLUMNS = (("abs_rel", "AbsRel"), ("rmse", "RMSE"), ("delta1", "&delta;1"))


def _per_image_table(rows: Sequence[ImageBoundaryRow], depth_by_name: Mapping[str, Mapping[str, Any]]) -> str:
    columns = ["frame", "F", "R", "P", "threshold", "GT px"] + [label for _, label in _DEPTH_COLUMNS
                                                                 if depth_by_name]
    lines = []
    for row in rows:
        values = [row.best_f, row.best_recall, row.best_precision, row.best_threshold, row.n_gt_pixels]
        if depth_by_name:
            depth = depth_by_name.get(row.name, {})
            values += [depth.get(key, float("nan")) for key, _ in _DEPTH_COLUMNS]
        lines.append(_table_row(row.name, values))
    return _sortable_table(columns, lines)


def _depth_table(depth_rows: Sequence[Mapping[str, Any]]) -> str:
    """The per-image table of a report without a boundary benchmark: frame, AbsRel, RMSE, delta1."""
    lines = [_table_row(str(row["name"]), [row.get(key, float("nan")) for key, _ in _DEPTH_COLUMNS])
             for row in depth_rows]
    return _sortable_table(["frame"] + [label for _, label in _DEPTH_COLUMNS], lines)


def _table_row(name: str, values: Sequence[Any]) -> str:
    cells = [f"<td class='name' data-v='{html.escape(name)}'>{html.escape(name)}</td>"]
    cells += [f"<td data-v='{_value(v)}'>{_shown(v)}</td>" for v in values]
    return "<tr>" + "".join(cells) + "</tr>"


def _sortable_table(columns: Sequence[str], lines: Sequence[str]) -> str:
    """The per-image table: `columns` (HTML, fixed labels) as headers that sort it with a click, `lines` its rows."""
    head = "".join(f"<th class='sort' onclick='sortBy(this)'>{label}</th>" for label in columns)
    return (f"<h2>Per frame ({len(lines)}; click a column to sort)</h2><div class='scroll'><table><thead><tr>{head}"
            f"</tr></thead><tbody>{''.join(lines)}</tbody></table></div>")


def _value(v: Any) -> str:
    return "NaN" if isinstance(v, float) and not math.isfinite(v) else html.escape(str(v))


def _shown(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))


def _picture_block(out_dir: Path, image_dir: str, pics: ImagePictures, row: ImageBoundaryRow | None,
                   depth: Mapping[str, Any] | None) -> str:
    caption = pics.name
    if row is not None:
        caption += (f": F {row.best_f:.3f} (R {row.best_recall:.3f}, P {row.best_precision:.3f}, "
                    f"t {row.best_threshold:.2f})")
    if depth is not None and "abs_rel" in depth:
        caption += f", AbsRel {float(depth['abs_rel']):.3f}"
    if pics.reason:
        caption = f"{pics.reason}: {caption}"
    parts = [f"<h3>{html.escape(caption)}</h3>"]
    named = [("rgb", pics.rgb), ("prediction", pics.prediction), ("ground truth", pics.ground_truth),
             ("matches", pics.matches), *pics.extra]
    for label, image in named:
        if image is None:
            continue
        file = f"{image_dir}/{_safe(pics.name)}_{_safe(label.replace(' ', '_'))}.png"
        atomic_write_bytes(out_dir / file, _png_bytes(image))
        parts.append(f"<figure><img src='{html.escape(file)}' alt='{html.escape(label)}'>"
                     f"<figcaption>{html.escape(label)}</figcaption></figure>")
    return "\n".join(parts)


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
