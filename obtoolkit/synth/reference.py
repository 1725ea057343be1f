"""Reference occlusion boundaries of synthetic frames, computed from the meshes alone (no label code involved).

Definition. Pixels p and q are adjacent in one of four inclinations, (row, col) offsets E (0, +1), S (+1, 0),
SE (+1, +1), NE (-1, +1); the other four follow by antisymmetry. Each pixel's exact ray (the one Hypersim renders)
hits face f_p at distance D_p (metres), or nothing. The key of a hit is ('inst', sii) if its object's semantic
instance sii >= 1, ('stuff',) if its NYU40 class is wall / floor / ceiling (1, 2, 22), else ('node', render entity id)
(spec §6.1.5: what "one object" means). Then:

* neither hits: no relation (class 0).
* exactly one hits: class VOID (1); the pixel that hits occludes.
* keys differ: class INTER_OBJECT (2); the nearer pixel occludes (IOBE: different objects, nearer = occluder). Touching
  and coplanar objects (a poster on a wall, a cube on a seat) stay inter-object pairs; `gap_m` = D_q - D_p lets an
  evaluation treat near-ties separately. An exact distance tie keeps class 2 with relation 0. `contact` marks the
  inter-object pairs whose two surfaces meet between the pixel centres (the continuity test below, run on the
  union of the two keys' surfaces): junctions such as a chest standing on the floor, where no surface hides another
  and "nearer" is a convention rather than an occlusion. `separation_m` is, for inter-object pairs, the exact local
  separation of the two objects' surfaces (each object's first hit, seeing through the others): along the ray through
  the pair's uv midpoint when it meets both objects, else from p's hit to q's object along p's ray, else from q's
  object to q's hit along q's ray; NaN when no ray meets both. A flush poster is a few millimetres from its wall: a
  tie that depth-order rules may skip.
* same key: no relation if the key's visible surface is continuous along the image segment between the two pixel
  centres; otherwise class SELF_OCCLUSION (3), the nearer pixel occludes. Continuity is decided on the mesh:
  - shortcut: f_p == f_q, or f_p and f_q share a welded vertex -> continuous;
  - otherwise sub-rays sweep the uv segment p -> q (`sweep_samples` equal steps; the ray map is linear in uv, so these
    are the rays of the image points on the segment). Each sub-ray takes its first hit on the pair's key, seeing
    through every other key (the key's surface as if alone: §6.7's "visible or front-facing" path, so a thin foreign
    object in front of a continuous wall does not cut it). Each pair of consecutive samples must both hit and either lie
    on the same or vertex-sharing faces, or lie within `contact_tol_m` of each other in 3-D; an interval that meets
    neither is bisected (one sub-ray at its uv midpoint), up to `max_bisections` times.
  - A sample that misses the key, or an interval still farther apart than `contact_tol_m` after the last bisection,
    makes the pair a self-occlusion. The chain of samples is a path over the key's visible surface: a real occlusion
    keeps a 3-D gap of the surface separation however finely it is bisected, while a continuous surface, a crease, or
    two parts of one object in contact (a chair leg under the seat) close it.

Relations are stored once per unordered pair (+1: p occludes q, -1: q occludes p), so every derived 8-neighbour map is
exactly antisymmetric. Files: `<scene>/_synth_reference/<cam>/frame.IIII.occlusion.npz` (Hypersim's reader ignores the
folder) with relation int8 (H, W, 4) [E, S, SE, NE], relation_class uint8 (H, W, 4), gap_m float32 (H, W, 4) (NaN where
a side misses or leaves the image), contact bool (H, W, 4), separation_m float32 (H, W, 4), face_id int32 (H, W)
(-1 = miss), object_id int32 (H, W) (-1 = miss) and below_precision bool (H, W, 4).

Don't-care below depth precision: `below_precision` marks the inter-object and self-occlusion pairs whose depth step
|gap_m| is smaller than the spacing of float16 values at the farther pixel's distance (Hypersim stores depth_meters
as float16: 0.98 mm at 1-2 m, 3.9 mm at 4-8 m, 15.6 mm at 16-32 m). No label computed from depth_meters can see such
a step (both pixels may round to one value), so evaluations treat these pairs as don't-care, never as misses.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from obtoolkit.errors import FormatError, MissingFileError
from obtoolkit.fileio import atomic_path
from obtoolkit.geometry import pixel_centre_uv
from obtoolkit.hypersim.layout import FrameId
from obtoolkit.raycast import Hits, MeshCaster, RayCamera

OFFSETS = ((0, 1), (1, 0), (1, 1), (-1, 1))  # (row, col) of q - p for E, S, SE, NE
DIRECTIONS = ("E", "S", "SE", "NE")
NONE, VOID, INTER_OBJECT, SELF_OCCLUSION = 0, 1, 2, 3
CLASS_NAMES = {NONE: "none", VOID: "void", INTER_OBJECT: "inter-object", SELF_OCCLUSION: "self-occlusion"}
STUFF_CLASSES = (1, 2, 22)
REFERENCE_DIR = "_synth_reference"
# P2ORM's 8-neighbour channels 1..8 (NW, N, NE, W, E, SW, S, SE) as (row, col) offsets.
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
_ARRAYS = {"relation": ("int8", 3), "relation_class": ("uint8", 3), "gap_m": ("float32", 3), "contact": ("bool", 3),
           "separation_m": ("float32", 3), "face_id": ("int32", 2), "object_id": ("int32", 2),
           "below_precision": ("bool", 3)}


@dataclass(frozen=True)
class ReferenceParams:
    """contact_tol_m: 3-D distance (m) under which two samples count as touching; sweep_samples: steps of the first
    sweep along a pair's segment; max_bisections: how often an open interval is halved before it counts as a gap."""

    contact_tol_m: float = 1e-3
    sweep_samples: int = 4
    max_bisections: int = 16


DEFAULT_PARAMS = ReferenceParams()


def object_keys(object_semantic: np.ndarray, object_instance: np.ndarray, object_node_id: np.ndarray) -> np.ndarray:
    """Integer key per object, int64 (N_obj,): sii (>= 1) for instances, 0 for stuff, -node_id otherwise."""
    si, sii, node = (np.asarray(a, np.int64) for a in (object_semantic, object_instance, object_node_id))
    return np.where(sii >= 1, sii, np.where(np.isin(si, STUFF_CLASSES), 0, -node))


@dataclass(frozen=True, eq=False)
class ReferenceBoundaries:
    """Reference pair relations of one frame (see the module docstring for the definition and the arrays)."""

    relation: np.ndarray
    relation_class: np.ndarray
    gap_m: np.ndarray
    contact: np.ndarray
    separation_m: np.ndarray
    face_id: np.ndarray
    object_id: np.ndarray
    below_precision: np.ndarray

    @property
    def shape_hw(self) -> tuple[int, int]:
        return self.face_id.shape

    def _eight(self, values: np.ndarray, negate: bool) -> np.ndarray:
        """Spread per-pair values (H, W, 4) to both pixels of each pair: (H, W, 8) in P2ORM's neighbour order."""
        height, width = self.shape_hw
        out = np.zeros((height, width, 8), values.dtype)
        for k, (dr, dc) in enumerate(OFFSETS):
            rp, rq, cp, cq = _pair_slices(dr, dc, height, width)
            out[rp, cp, NEIGHBOURS.index((dr, dc))] = values[rp, cp, k]
            out[rq, cq, NEIGHBOURS.index((-dr, -dc))] = -values[rp, cp, k] if negate else values[rp, cp, k]
        return out

    def order_map(self) -> np.ndarray:
        """int8 (H, W, 9) in P2ORM's layout: channel 0 = 1 where any relation, channels 1-8 = NW, N, NE, W, E, SW, S,
        SE; +1 = this pixel occludes that neighbour. Exactly antisymmetric."""
        eight = self._eight(self.relation, negate=True)
        return np.concatenate([(eight != 0).any(axis=-1, keepdims=True).astype(np.int8), eight], axis=-1)

    def class_map8(self) -> np.ndarray:
        """uint8 (H, W, 8): the class of the pair with each neighbour (same order as order_map's channels 1-8)."""
        return self._eight(self.relation_class, negate=False)

    def occluder_mask(self, classes: Collection[int] = (VOID, INTER_OBJECT, SELF_OCCLUSION),
                      contacts: bool = True) -> np.ndarray:
        """bool (H, W): pixels that occlude at least one neighbour through a pair of one of `classes`; without the
        inter-object contact pairs when `contacts` is False."""
        selected = (self.order_map()[..., 1:] == 1) & np.isin(self.class_map8(), list(classes))
        if not contacts:
            selected &= ~self._eight(self.contact, negate=False)
        return selected.any(axis=-1)

    def contact_occluder_mask(self) -> np.ndarray:
        """bool (H, W): the nearer pixels of inter-object contact pairs (where "nearer" is a convention)."""
        return ((self.order_map()[..., 1:] == 1) & self._eight(self.contact, negate=False)).any(axis=-1)

    def occluder_class(self) -> np.ndarray:
        """uint8 (H, W): class of each pixel's occluding relations, inter-object > self-occlusion > void; 0 if none."""
        occludes, classes = self.order_map()[..., 1:] == 1, self.class_map8()
        out = np.zeros(self.shape_hw, np.uint8)
        for c in (VOID, SELF_OCCLUSION, INTER_OBJECT):  # later classes take priority
            out[(occludes & (classes == c)).any(axis=-1)] = c
        return out


def _pair_slices(dr: int, dc: int, height: int, width: int) -> tuple[slice, slice, slice, slice]:
    """Row and column slices of p and of q = p + (dr, dc) over all pairs inside the image (dc >= 0)."""
    return (slice(max(0, -dr), height - max(0, dr)), slice(max(0, dr), height - max(0, -dr)),
            slice(0, width - dc), slice(dc, width))


def compute_reference(caster: MeshCaster, camera: RayCamera, faces_oi: np.ndarray, meters_per_asset_unit: float,
                      params: ReferenceParams = DEFAULT_PARAMS, hits: Hits | None = None) -> ReferenceBoundaries:
    """Reference relations of one frame from the mesh in `caster` (whose `face_key` must be `object_keys` per face).

    Args:
        caster: the scene mesh, asset units, with each face's object key.
        camera: the frame's exact camera.
        faces_oi: int64 (F,) object id per face.
        meters_per_asset_unit: scene scale.
        params: sweep parameters.
        hits: the frame's primary hits (H, W) if already cast with `camera.pixel_rays()`.
    """
    height, width = camera.height, camera.width
    rays = camera.pixel_rays()
    hits = caster.cast(rays) if hits is None else hits
    face = hits.face
    distance_m = np.where(hits.hit, hits.t_asset.astype(np.float64) * meters_per_asset_unit, np.nan)
    points = hits.points_asset(rays)
    u, v = pixel_centre_uv(height, width)
    uv = np.stack([u, v], axis=-1)
    relation = np.zeros((height, width, 4), np.int8)
    relation_class = np.zeros((height, width, 4), np.uint8)
    gap_m = np.full((height, width, 4), np.nan, np.float32)
    far_m = np.full((height, width, 4), np.nan)
    candidates, inter_pairs = [], []
    for k, (dr, dc) in enumerate(OFFSETS):
        rp, rq, cp, cq = _pair_slices(dr, dc, height, width)
        fp, fq = face[rp, cp], face[rq, cq]
        hp, hq = fp >= 0, fq >= 0
        gap = distance_m[rq, cq] - distance_m[rp, cp]
        order = np.sign(np.nan_to_num(gap)).astype(np.int8)
        same_key = caster.face_key[fp] == caster.face_key[fq]
        void, inter = hp != hq, hp & hq & ~same_key
        relation[rp, cp, k] = np.where(void, np.where(hp, 1, -1), np.where(inter, order, 0))
        relation_class[rp, cp, k] = np.where(void, VOID, np.where(inter, INTER_OBJECT, NONE))
        gap_m[rp, cp, k] = gap
        far_m[rp, cp, k] = np.fmax(distance_m[rp, cp], distance_m[rq, cq])
        rows, cols = np.nonzero(hp & hq & same_key & (fp != fq))
        untouched = ~caster.faces_touch(fp[rows, cols], fq[rows, cols])
        rows, cols = rows[untouched] + rp.start, cols[untouched]
        candidates.append((k, rows, cols, rows + dr, cols + dc))
        rows, cols = np.nonzero(inter)
        inter_pairs.append((k, rows + rp.start, cols, rows + rp.start + dr, cols + dc))
    broken = _surface_gaps(caster, camera, uv, face, points, candidates, meters_per_asset_unit, params)
    for (k, rows, cols, rows_q, cols_q), cut in zip(candidates, broken, strict=True):
        rows, cols, rows_q, cols_q = rows[cut], cols[cut], rows_q[cut], cols_q[cut]
        relation[rows, cols, k] = np.sign(distance_m[rows_q, cols_q] - distance_m[rows, cols]).astype(np.int8)
        relation_class[rows, cols, k] = SELF_OCCLUSION
    separated = _surface_gaps(caster, camera, uv, face, points, inter_pairs, meters_per_asset_unit, params,
                              both_keys=True)
    contact = np.zeros((height, width, 4), bool)
    separation_m = np.full((height, width, 4), np.nan, np.float32)
    for (k, rows, cols, rows_q, cols_q), apart in zip(inter_pairs, separated, strict=True):
        contact[rows[~apart], cols[~apart], k] = True
        separation_m[rows, cols, k] = _separation(caster, camera, uv, face, distance_m, (rows, cols),
                                                  (rows_q, cols_q), meters_per_asset_unit)
    object_id = np.where(hits.hit, np.asarray(faces_oi)[np.maximum(face, 0)], -1).astype(np.int32)
    return ReferenceBoundaries(relation, relation_class, gap_m, contact, separation_m, face.astype(np.int32),
                               object_id, below_depth_precision(relation_class, gap_m, far_m))


def below_depth_precision(relation_class: np.ndarray, gap_m: np.ndarray, far_m: np.ndarray) -> np.ndarray:
    """bool (H, W, 4): inter-object and self-occlusion pairs whose depth step |gap_m| is below the spacing of float16
    values at the farther pixel's distance `far_m` (metres; NaN where a side misses)."""
    with np.errstate(invalid="ignore"):
        return np.isin(relation_class, (INTER_OBJECT, SELF_OCCLUSION)) & (np.abs(gap_m) < float16_spacing_m(far_m))


def float16_spacing_m(distance_m: np.ndarray) -> np.ndarray:
    """Spacing of float16 values at each distance (metres; Hypersim's depth_meters precision): 0.98 mm at 1-2 m,
    3.9 mm at 4-8 m, 15.6 mm at 16-32 m. float32 (...), NaN where the distance is NaN."""
    with np.errstate(over="ignore"):
        return np.spacing(np.abs(np.asarray(distance_m, np.float64)).astype(np.float16)).astype(np.float32)


def _separation(caster, camera, uv, face, distance_m, p, q, meters_per_asset_unit) -> np.ndarray:
    """Local separation (metres) from p's object surface to q's, per pair; see the module docstring."""
    key_p, key_q = caster.face_key[face[p]], caster.face_key[face[q]]

    def along(uv_points, key):
        rays = camera.rays_at_uv(uv_points[:, 0], uv_points[:, 1])
        return caster.cast_on_keys(rays, key).t_asset.astype(np.float64) * meters_per_asset_unit

    mid = 0.5 * (uv[p] + uv[q])
    with np.errstate(invalid="ignore"):  # inf - inf where both miss
        candidates = (along(mid, key_q) - along(mid, key_p),  # along the mid ray
                      along(uv[p], key_q) - distance_m[p],  # from p's hit to q's object along p's ray
                      distance_m[q] - along(uv[q], key_p))  # from p's object to q's hit along q's ray
    separation = np.full(len(key_p), np.nan)
    for candidate in reversed(candidates):  # the first finite candidate wins
        separation = np.where(np.isfinite(candidate), candidate, separation)
    return separation.astype(np.float32)


def _surface_gaps(caster, camera, uv, face, points, candidates, meters_per_asset_unit, params,
                  both_keys: bool = False) -> list[np.ndarray]:
    """For each direction's candidate pairs, bool (N_k,): the surface is not continuous p -> q.

    The surface is the key of p (same-key pairs), or with `both_keys` the union of the keys of p and q (the
    inter-object contact test).
    """
    sizes = [len(c[1]) for c in candidates]
    rows_p, cols_p = (np.concatenate([c[i] for c in candidates]) for i in (1, 2))
    rows_q, cols_q = (np.concatenate([c[i] for c in candidates]) for i in (3, 4))
    uv_p, uv_q = uv[rows_p, cols_p], uv[rows_q, cols_q]
    key = caster.face_key[face[rows_p, cols_p]]
    other = caster.face_key[face[rows_q, cols_q]] if both_keys else None
    n, steps = len(key), params.sweep_samples
    # Samples along each segment: s = 0 and 1 are the pixels themselves, the interior ones are cast now.
    s = np.arange(steps + 1) / steps
    inner = uv_p[:, None] + s[None, 1:-1, None] * (uv_q - uv_p)[:, None]
    inner_rays = camera.rays_at_uv(inner[..., 0], inner[..., 1]).reshape(-1, 6)
    inner_hits = caster.cast_on_keys(inner_rays, np.repeat(key, steps - 1),
                                     None if other is None else np.repeat(other, steps - 1))
    sample_face = np.concatenate([face[rows_p, cols_p][:, None], inner_hits.face.reshape(n, steps - 1),
                                  face[rows_q, cols_q][:, None]], axis=1)
    sample_point = np.concatenate([points[rows_p, cols_p][:, None],
                                   inner_hits.points_asset(inner_rays).reshape(n, steps - 1, 3),
                                   points[rows_q, cols_q][:, None]], axis=1)
    intervals = _Intervals(np.repeat(np.arange(n), steps), np.tile(s[:-1], n), np.tile(s[1:], n),
                           sample_face[:, :-1].ravel(), sample_face[:, 1:].ravel(),
                           sample_point[:, :-1].reshape(-1, 3), sample_point[:, 1:].reshape(-1, 3))
    broken = np.zeros(n, bool)
    tol_asset = params.contact_tol_m / meters_per_asset_unit
    for level in range(params.max_bisections + 1):
        both = (intervals.face_a >= 0) & (intervals.face_b >= 0)
        broken[intervals.pair[~both]] = True
        close = caster.faces_touch(intervals.face_a, intervals.face_b)
        close |= np.linalg.norm(intervals.point_a - intervals.point_b, axis=-1) <= tol_asset
        pending = both & ~close & ~broken[intervals.pair]
        if not pending.any():
            break
        if level == params.max_bisections:
            broken[intervals.pair[pending]] = True
            break
        intervals = intervals.select(pending)
        mid = 0.5 * (intervals.s_a + intervals.s_b)
        uv_mid = uv_p[intervals.pair] + mid[:, None] * (uv_q - uv_p)[intervals.pair]
        mid_rays = camera.rays_at_uv(uv_mid[:, 0], uv_mid[:, 1])
        mid_hits = caster.cast_on_keys(mid_rays, key[intervals.pair], None if other is None else other[intervals.pair])
        intervals = intervals.split(mid, mid_hits.face, mid_hits.points_asset(mid_rays))
    return np.split(broken, np.cumsum(sizes)[:-1])


@dataclass(frozen=True, eq=False)
class _Intervals:
    """Open sub-intervals [s_a, s_b] of candidate pairs' segments with the hits (face, point) at both ends."""

    pair: np.ndarray
    s_a: np.ndarray
    s_b: np.ndarray
    face_a: np.ndarray
    face_b: np.ndarray
    point_a: np.ndarray
    point_b: np.ndarray

    def select(self, mask: np.ndarray) -> _Intervals:
        return _Intervals(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    def split(self, mid: np.ndarray, face_mid: np.ndarray, point_mid: np.ndarray) -> _Intervals:
        return _Intervals(np.concatenate([self.pair, self.pair]), np.concatenate([self.s_a, mid]),
                          np.concatenate([mid, self.s_b]), np.concatenate([self.face_a, face_mid]),
                          np.concatenate([face_mid, self.face_b]), np.concatenate([self.point_a, point_mid]),
                          np.concatenate([point_mid, self.point_b]))


# ---------------------------------------------------------------------------------------------------------------------
# Files


def reference_path(root: str | Path, frame: FrameId) -> Path:
    """`<root>/<scene>/_synth_reference/<cam>/frame.IIII.occlusion.npz`."""
    return Path(root) / frame.scene / REFERENCE_DIR / frame.camera / f"frame.{frame.frame:04d}.occlusion.npz"


def write_reference(root: str | Path, frame: FrameId, reference: ReferenceBoundaries,
                    params: ReferenceParams = DEFAULT_PARAMS) -> Path:
    """Write the frame's reference atomically (a deterministic compressed npz, plus the parameters as JSON)."""
    path = reference_path(root, frame)
    arrays = {name: getattr(reference, name) for name in _ARRAYS}
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays, params_json=np.array(json.dumps(asdict(params), sort_keys=True)))
    return path


def read_reference(root: str | Path, frame: FrameId) -> ReferenceBoundaries:
    """Read a frame's reference boundaries, checking keys, dtypes and shapes (errors name the file)."""
    path = reference_path(root, frame)
    if not path.is_file():
        raise MissingFileError(path, f"synthetic reference boundaries of {frame}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAYS if name in data.files}
    except (OSError, ValueError) as error:
        raise FormatError(path, "a readable npz file", str(error)) from error
    missing = sorted(set(_ARRAYS) - set(arrays))
    if missing:
        raise FormatError(path, f"arrays {', '.join(_ARRAYS)}", f"missing {missing}")
    shape_hw = arrays["face_id"].shape[:2]
    for name, (dtype, ndim) in _ARRAYS.items():
        expected = shape_hw + ((4,) if ndim == 3 else ())
        if arrays[name].dtype != np.dtype(dtype) or arrays[name].shape != expected:
            raise FormatError(path, f"{name} {dtype} {expected}", f"{arrays[name].dtype} {arrays[name].shape}")
    return ReferenceBoundaries(**arrays)
