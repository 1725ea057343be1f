"""Per-frame statistics, as recorded in manifests: one function for generated and for indexed frames, so that each
column means one thing (manifest version 2)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from obtoolkit.boundaries.generator import OcclusionLabels
from obtoolkit.boundaries.kernels import CLASS_INTER, CLASS_SELF, CLASS_VOID
from obtoolkit.boundaries.orientation import ORI16_NONE
from obtoolkit.geometry import NORMAL_FROM_DEPTH


def frame_statistics(arrays: Mapping[str, np.ndarray],
                     finite_depth_mask: np.ndarray | None) -> dict[str, float | int | None]:
    """Statistics of one frame's decoded label products (`LabelArrays.arrays`: ob required; instance_contour,
    ob_class, ori16 and valid when present) and where its stored depth is finite (bool (H, W), or None).
    Fractions are of all pixels unless said otherwise; None where the product or mask it needs is absent.

    Returns height, width; invalid_fraction (pixels outside the valid-mask product: no finite depth > 0 or no
    render entity); depth_nan_fraction (non-finite depth); ob_fraction and, from ob_class, ob_void_fraction,
    ob_inter_fraction, ob_self_fraction; contour_fraction; target_fraction (ob | contour, MoDOT's target);
    undefined_orientation_fraction (of boundary pixels, those whose 16-bit orientation is undefined).
    """
    ob = arrays["ob"]
    height, width = ob.shape
    pixels = float(height * width)
    contour = arrays.get("instance_contour")
    ob_class, ori16, valid = arrays.get("ob_class"), arrays.get("ori16"), arrays.get("valid")
    n_ob = int(ob.sum())

    def fraction(mask: np.ndarray | None) -> float | None:
        return None if mask is None else int(np.count_nonzero(mask)) / pixels

    return {
        "height": height, "width": width,
        "invalid_fraction": None if valid is None else 1.0 - int(valid.sum()) / pixels,
        "depth_nan_fraction": None if finite_depth_mask is None else fraction(~finite_depth_mask),
        "ob_fraction": n_ob / pixels,
        "ob_void_fraction": fraction(None if ob_class is None else ob_class == CLASS_VOID),
        "ob_inter_fraction": fraction(None if ob_class is None else ob_class == CLASS_INTER),
        "ob_self_fraction": fraction(None if ob_class is None else ob_class == CLASS_SELF),
        "contour_fraction": fraction(contour),
        "target_fraction": fraction(ob if contour is None else ob | contour),
        "undefined_orientation_fraction": None if ori16 is None else (
            int((ob & (ori16 == ORI16_NONE)).sum()) / n_ob if n_ob else 0.0),
    }


def generator_statistics(labels: OcclusionLabels) -> dict[str, float | int]:
    """What only the generator knows: depth_normal_fraction (of valid pixels, those whose normal came from depth,
    Hypersim's being unusable) and n_ties (inter-object pairs closer than the tie threshold)."""
    n_valid = int(labels.valid_mask.sum())
    from_depth = int((labels.normal_source == NORMAL_FROM_DEPTH).sum())
    return {"depth_normal_fraction": from_depth / n_valid if n_valid else 0.0, "n_ties": labels.n_ties}
