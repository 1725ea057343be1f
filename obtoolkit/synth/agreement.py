"""How well labels agree with a synthetic frame's reference boundaries (the acceptance measure of the label issue).

Pixels are compared with a 1-pixel tolerance (a labelled boundary pixel counts as correct when a reference occluder
lies in its 3x3 window, and vice versa). Three kinds of reference pairs are "don't care", because a label rule may
legitimately leave them out: inter-object contacts (the two surfaces meet between the pixel centres, so nothing is
hidden), ties (the objects' local separation `separation_m` is below the label rule's tie threshold, e.g. a flush
poster) and steps below float16 depth precision at their range (`below_precision`: a 1 mm sheet of paper at 3 m).
Labelled pixels explained only by such pairs are neither right nor wrong; the fraction of reference occluders they
cover is reported.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from obtoolkit.boundaries._neighbours import NEIGHBOUR_OFFSETS
from obtoolkit.synth.reference import INTER_OBJECT, OFFSETS, SELF_OCCLUSION, VOID, ReferenceBoundaries

_BOX = np.ones((3, 3), bool)


@dataclass
class Agreement:
    """Sufficient statistics; add frames with `update`, read rates from the properties."""

    matched_labelled: int = 0
    labelled: int = 0
    matched_reference: int = 0
    reference: int = 0
    matched_self: int = 0
    reference_self: int = 0
    same_side: int = 0
    both_related: int = 0
    orientation_close: int = 0
    oriented: int = 0
    dont_care_reference: int = 0
    ties_unrelated: int = 0
    ties: int = 0

    def update(self, order: np.ndarray, ob: np.ndarray, theta: np.ndarray, reference: ReferenceBoundaries,
               distance_m: np.ndarray, tie_eps_rel: float, *, include_void: bool = True,
               max_angle_deg: float = 45.0) -> None:
        """Add one frame: labels (order int8 (H, W, 9), ob bool (H, W), theta float (H, W) radians, NaN where
        undefined) against its reference; `distance_m` (H, W) decides the tie threshold tie_eps_rel * min(D)."""
        kept, skipped, tie = _split_reference(reference, distance_m, tie_eps_rel)
        pairs = order[..., 1:][..., [4, 6, 7, 2]]  # channels E, S, SE, NE: the reference's pair layout
        self.ties_unrelated += int((tie & (pairs == 0)).sum())
        self.ties += int(tie.sum())
        classes = (VOID, INTER_OBJECT, SELF_OCCLUSION) if include_void else (INTER_OBJECT, SELF_OCCLUSION)
        truth = kept.occluder_mask(classes=classes)
        near_truth = ndimage.binary_dilation(truth, _BOX)
        dont_care = ndimage.binary_dilation(skipped.occluder_mask(classes=classes), _BOX) & ~near_truth
        near_label = ndimage.binary_dilation(ob, _BOX)
        self.matched_labelled += int((ob & near_truth).sum())
        self.labelled += int((ob & ~dont_care).sum())
        self.matched_reference += int((truth & near_label).sum())
        self.reference += int(truth.sum())
        self.dont_care_reference += int((skipped.occluder_mask(classes=classes) & ~truth).sum())
        self_pixels = kept.occluder_class() == SELF_OCCLUSION
        self.matched_self += int((self_pixels & near_label).sum())
        self.reference_self += int(self_pixels.sum())
        truth_order = kept.order_map()[..., 1:]
        related = (truth_order != 0) & (order[..., 1:] != 0)
        self.same_side += int((related & (truth_order == order[..., 1:])).sum())
        self.both_related += int(related.sum())
        self._update_orientation(truth_order, ob & truth, theta, max_angle_deg)

    def _update_orientation(self, truth_order, pixels, theta, max_angle_deg) -> None:
        lengths = np.hypot(NEIGHBOUR_OFFSETS[:, 0], NEIGHBOUR_OFFSETS[:, 1])
        ys, xs = np.nonzero(pixels & np.isfinite(theta))
        relations = truth_order[ys, xs].astype(np.float64)
        w, h = relations @ (NEIGHBOUR_OFFSETS[:, 1] / lengths), relations @ (NEIGHBOUR_OFFSETS[:, 0] / lengths)
        norm = np.hypot(w, h)
        known = norm > 1e-9
        cos = (-np.sin(theta[ys, xs]) * w + np.cos(theta[ys, xs]) * h) / np.where(known, norm, 1.0)
        self.orientation_close += int((known & (cos >= math.cos(math.radians(max_angle_deg)))).sum())
        self.oriented += int(known.sum())

    @property
    def precision(self) -> float:
        return self.matched_labelled / max(self.labelled, 1)

    @property
    def recall(self) -> float:
        return self.matched_reference / max(self.reference, 1)

    @property
    def f_score(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def self_recall(self) -> float:
        return self.matched_self / max(self.reference_self, 1)

    @property
    def side_accuracy(self) -> float:
        return self.same_side / max(self.both_related, 1)

    @property
    def orientation_accuracy(self) -> float:
        return self.orientation_close / max(self.oriented, 1)

    @property
    def tie_skip_rate(self) -> float:
        """Of the reference's tie pairs (not contacts), the fraction the labels leave without a relation."""
        return self.ties_unrelated / max(self.ties, 1)

    @property
    def dont_care_fraction(self) -> float:
        return self.dont_care_reference / max(self.reference + self.dont_care_reference, 1)

    def summary(self) -> dict[str, float]:
        names = ("precision", "recall", "f_score", "self_recall", "side_accuracy", "orientation_accuracy",
                 "dont_care_fraction", "tie_skip_rate")
        return {name: float(getattr(self, name)) for name in names}


def _split_reference(reference: ReferenceBoundaries, distance_m: np.ndarray,
                     tie_eps_rel: float) -> tuple[ReferenceBoundaries, ReferenceBoundaries, np.ndarray]:
    """(reference without contact and tie pairs, reference of only those pairs, tie pairs bool (H, W, 4))."""
    height, width = reference.shape_hw
    distance = np.where(np.isfinite(distance_m), distance_m, np.nan)
    nearest = np.full((height, width, 4), np.nan)
    for k, (dy, dx) in enumerate(OFFSETS):
        rows_p = slice(max(0, -dy), height - max(0, dy))
        rows_q = slice(max(0, dy), height + min(0, dy))
        nearest[rows_p, : width - dx, k] = np.fmin(distance[rows_p, : width - dx], distance[rows_q, dx:])
    with np.errstate(invalid="ignore"):
        tie = (reference.relation_class == INTER_OBJECT) & (np.abs(reference.separation_m) < tie_eps_rel * nearest)
    skip = reference.contact | tie | reference.below_precision
    kept = dataclasses.replace(reference, relation=np.where(skip, 0, reference.relation).astype(np.int8))
    skipped = dataclasses.replace(reference, relation=np.where(skip, reference.relation, 0).astype(np.int8))
    return kept, skipped, tie & ~reference.contact
