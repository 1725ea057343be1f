"""Tiny synthetic trees in each dataset's exact on-disk format (the only module of the package that writes files).

`write_synthetic_tree(name, root, seed=...)` writes a few frames of planar objects in front of a tilted wall, with
the dataset's layout, file types and value encodings (NYUD `.npy` metres and 0/255 edges, OB-FUTURE 8-bit depth
x 25.5 with 255 = background and IOBE orientation codes, iBims `.mat` v5 structs, DIODE `_depth.npy` (H, W, 1) +
`_depth_mask.npy`, colour-coded OB-DIODE / OB-EntitySeg PNGs) and its split files, and returns what a correct reader
must decode. Files are byte-identical for a given seed (the .mat header carries no date). `write_malformed_tree`
writes the same tree with one defect, for error tests. Writes are atomic; nothing is written outside `root`.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from obtoolkit.datasets import ob_future
from obtoolkit.datasets.base import FrameArrays
from obtoolkit.datasets.registry import get_format
from obtoolkit.fileio import atomic_path, atomic_write_bytes, atomic_write_text

DEFECTS = ("truncated_png", "wrong_shape", "missing_split", "wrong_mat_keys", "pickled_npy")
_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by obtoolkit.datasets.synthetic".ljust(116, b" ")
_ANGLES_DEG = (0, 45, 90, 135, 180, 225, 270, 315)


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticTree:
    """A written tree: its root, split lists (split -> frame ids, as a reader returns them after official removals)
    and the arrays a correct reader decodes for each frame id."""

    dataset: str
    root: Path
    splits: dict[str, tuple[str, ...]]
    truth: dict[str, FrameArrays]


@dataclasses.dataclass(frozen=True, eq=False)
class _Scene:
    """One synthetic frame: image uint8 (H, W, 3), depth_m float64 (H, W), boundary bool (H, W) on the occluder side
    of every depth step, orientation_deg int (H, W) an IOBE angle per boundary pixel (0 elsewhere)."""

    image: np.ndarray
    depth_m: np.ndarray
    boundary: np.ndarray
    orientation_deg: np.ndarray
    objects: np.ndarray  # bool (H, W): covered by an object (not the wall)


def _scene(rng: np.random.Generator, shape_hw: tuple[int, int], max_depth_m: float) -> _Scene:
    h, w = shape_hw
    rows = np.arange(h)[:, None] / max(h - 1, 1)
    depth = np.broadcast_to(0.6 * max_depth_m + 0.2 * max_depth_m * rows, (h, w)).copy()
    label = np.zeros((h, w), np.int64)
    for k in range(1, 4):  # far to near, so nearer objects overwrite
        y0, x0 = int(rng.integers(0, h - 3)), int(rng.integers(0, w - 3))
        y1, x1 = int(rng.integers(y0 + 3, h + 1)), int(rng.integers(x0 + 3, w + 1))
        depth[y0:y1, x0:x1] = max_depth_m * (0.5 - 0.1 * k) + rng.uniform(0, 0.05 * max_depth_m)
        label[y0:y1, x0:x1] = k
    padded = np.pad(depth, 1, mode="edge")
    neighbours = [padded[1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w] for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))]
    boundary = np.any([depth < n - 0.02 * max_depth_m for n in neighbours], axis=0)
    palette = rng.integers(30, 226, (4, 3))
    image = np.clip(palette[label] + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)
    orientation = np.where(boundary, rng.choice(_ANGLES_DEG, (h, w)), 0)
    return _Scene(image, depth, boundary, orientation, label > 0)


# -- file writers ------------------------------------------------------------------------------------------------


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _jpeg_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _write_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def _mat_bytes(variables: dict) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, format="5", do_compression=True, oned_as="row")
    return _MAT_HEADER + buffer.getvalue()[len(_MAT_HEADER):]


def _write_list(root: Path, relative: str, lines: list[str]) -> None:
    atomic_write_text(root / relative, "".join(f"{line}\n" for line in lines))


def _code_of_angle(angle_deg: np.ndarray) -> np.ndarray:
    """IOBE's orientation code: angle x 255 / 360, rounded as cv2 writes floats to 8 bits."""
    return np.rint(angle_deg * 255.0 / 360.0).astype(np.uint8)


def _iobe_decoded_rad(angle_deg: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    """What IOBE's decoder returns for an encoded angle (by hand: left rule -90 degrees, wrapped to (-180, 180])."""
    degrees = (angle_deg - 90) % 360
    degrees = np.where(degrees > 180, degrees - 360, degrees)
    return np.where(boundary, np.radians(degrees), np.nan).astype(np.float32)


def _nan_outside(depth_m: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return np.where(valid, depth_m.astype(np.float32), np.float32(np.nan))


# -- one writer per dataset: (root, rng, shape_hw, n_frames) -> (splits, truth) ---------------------------------


def _write_nyudmt(root, rng, shape_hw, n_frames):
    truth, ids = {}, []
    for index in range(n_frames):
        scene = _scene(rng, shape_hw, 10.0)
        frame = f"{index + 1:04d}"
        depth = scene.depth_m.astype(np.float32)
        depth[rng.random(shape_hw) < 0.03] = 0.0  # a few holes
        atomic_write_bytes(root / f"NYUDv2/images/{frame}.png", _png_bytes(scene.image))
        atomic_write_bytes(root / f"NYUDv2/edge/{frame}.png", _png_bytes(scene.boundary.astype(np.uint8) * 255))
        _write_npy(root / f"NYUDv2/depth/{frame}.npy", depth)
        valid = depth > 0
        truth[frame] = FrameArrays(frame, scene.image, _nan_outside(depth, valid), valid, scene.boundary,
                                   np.ones(shape_hw, bool))
        ids.append(frame)
    train, test = ids[1::2], ids[0::2]
    _write_list(root, "multi/train_list.txt", [f"{int(i) - 1:05d}" for i in train])
    _write_list(root, "multi/val_list.txt", [f"{int(i) - 1:05d}" for i in test])
    return {"train": tuple(train), "test": tuple(test)}, truth


def _write_ob_future(root, rng, shape_hw, n_frames):
    truth, ids = {}, []
    for index in range(n_frames):
        scene = _scene(rng, shape_hw, 10.0)
        frame = f"{52 + 1000 * index:05d}"
        code = np.where(scene.objects, np.clip(np.rint(scene.depth_m * ob_future.DEPTH_CODE_PER_M), 1, 254), 255)
        code = code.astype(np.uint8)
        boundary = scene.boundary & scene.objects
        ob_rgb = np.repeat(boundary[:, :, None].astype(np.uint8) * 255, 3, axis=2)
        oo = np.where(boundary, _code_of_angle(scene.orientation_deg), ob_future.ORIENTATION_CODE_NONE)
        atomic_write_bytes(root / frame / "rgb_1.png", _png_bytes(scene.image))
        atomic_write_bytes(root / frame / "dis_fOB.png", _png_bytes(ob_rgb))
        atomic_write_bytes(root / frame / "bdepth.png", _png_bytes(code))
        atomic_write_bytes(root / frame / "dis_fOO.png", _png_bytes(np.repeat(oo[:, :, None], 3, axis=2)))
        valid = (code > 0) & (code < 255)
        truth[frame] = FrameArrays(frame, scene.image, _nan_outside(code / 25.5, valid), valid, boundary,
                                   orientation_rad=_iobe_decoded_rad(scene.orientation_deg, boundary))
        ids.append(frame)
    train, test = ids[1::2], ids[0::2]
    _write_list(root, "19186_occ_9p.txt", train)
    # the official loader drops four test scenes; one of them is listed (with no folder) to prove it
    _write_list(root, "19186_occ_1p.txt", [*test, ob_future.OFFICIAL_DROPPED_TEST_IDS[0]])
    return {"train": tuple(train), "test": tuple(test)}, truth


def _write_ibims(root, rng, shape_hw, n_frames):
    truth, names = {}, []
    for index in range(n_frames):
        scene = _scene(rng, shape_hw, 8.0)
        name = f"room_{index:02d}"
        depth = scene.depth_m.copy()
        depth[rng.random(shape_hw) < 0.03] = 0.0
        mask_invalid = (rng.random(shape_hw) > 0.05).astype(np.uint8)
        mask_transp = np.ones(shape_hw, np.uint8)
        mask_transp[: shape_hw[0] // 4, : shape_hw[1] // 4] = 0  # a window
        edges = scene.boundary.astype(np.uint8)
        data = {"image": scene.image, "depth": depth, "edges": edges, "mask_invalid": mask_invalid,
                "mask_transp": mask_transp, "calib": np.eye(3)}
        atomic_write_bytes(root / f"imgs/{name}.png", _png_bytes(scene.image))
        atomic_write_bytes(root / f"ob/{name}.png", _png_bytes(scene.boundary.astype(np.uint8) * 255))
        atomic_write_bytes(root / f"gt_depth/{name}.mat", _mat_bytes({"data": data}))
        valid = (mask_invalid != 0) & (mask_transp != 0) & (depth != 0)
        truth[name] = FrameArrays(name, scene.image, _nan_outside(depth, valid), valid, scene.boundary,
                                  depth_edges=scene.boundary)
        names.append(name)
    _write_list(root, "imagelist.txt", names)
    return {"test": tuple(names)}, truth


def _write_diode(root, rng, shape_hw, n_frames):
    truth, ids = {}, []
    for index in range(n_frames):
        scene = _scene(rng, shape_hw, 20.0)
        frame = f"val/indoors/scene_{19 + index // 2:05d}/scan_{183 + index:05d}/" \
                f"{19 + index // 2:05d}_{183 + index:05d}_indoors_000_{10 * index:03d}"
        mask = (rng.random(shape_hw) > 0.05).astype(np.float32)
        depth = np.where(mask > 0, scene.depth_m, 0.0).astype(np.float32)
        atomic_write_bytes(root / f"{frame}.png", _png_bytes(scene.image))
        _write_npy(root / f"{frame}_depth.npy", depth[:, :, None])
        _write_npy(root / f"{frame}_depth_mask.npy", mask)
        valid = mask > 0
        truth[frame] = FrameArrays(frame, scene.image, _nan_outside(depth, valid), valid)
        ids.append(frame)
    _write_list(root, "diode_indoor_eval.txt", [f"{i}.png" for i in ids])
    return {"indoor": tuple(ids)}, truth


def _colour_coded(scene: _Scene) -> np.ndarray:
    """IOBE-style colour-coded OB: boundary pixels (255, 255, orientation code) in RGB, black elsewhere."""
    rgb = np.zeros((*scene.boundary.shape, 3), np.uint8)
    rgb[scene.boundary] = 255
    rgb[:, :, 2] = np.where(scene.boundary, _code_of_angle(scene.orientation_deg), 0)
    return rgb


def _write_ob_diode(root, rng, shape_hw, n_frames):
    truth, names = {}, []
    for index in range(n_frames):
        scene = _scene(rng, shape_hw, 20.0)
        name = f"{index:05d}_{10 + index:05d}_indoors_080_020"
        atomic_write_bytes(root / f"imgs/{name}.png", _png_bytes(scene.image))
        atomic_write_bytes(root / f"gt/{name}.png", _png_bytes(_colour_coded(scene)))
        truth[name] = FrameArrays(name, scene.image, boundary=scene.boundary)
        names.append(name)
    _write_list(root, "diode_val50.txt", [f"imgs/{n}.png" for n in names])
    return {"test": tuple(names)}, truth


def _write_ob_entityseg(root, rng, shape_hw, n_frames):
    truth, names = {}, []
    for index in range(n_frames):
        scene = _scene(rng, shape_hw, 10.0)
        name = f"laion_0{index}_00030_00030159{index}"
        jpeg = _jpeg_bytes(scene.image)
        atomic_write_bytes(root / f"imgs/{name}.jpg", jpeg)
        atomic_write_bytes(root / f"gt/{name}.png", _png_bytes(_colour_coded(scene)))
        decoded = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
        truth[name] = FrameArrays(name, decoded, boundary=scene.boundary)
        names.append(name)
    _write_list(root, "entityseg_val70.txt", [f"imgs/{n}" for n in names])
    return {"test": tuple(names)}, truth


_WRITERS: dict[str, Callable] = {
    "nyudmt": _write_nyudmt, "ob_future": _write_ob_future, "ibims": _write_ibims, "diode": _write_diode,
    "ob_diode": _write_ob_diode, "ob_entityseg": _write_ob_entityseg,
}


def write_synthetic_tree(name: str, root: str | Path, *, seed: int = 0, n_frames: int = 3,
                         shape_hw: tuple[int, int] = (24, 32)) -> SyntheticTree:
    """Write a tiny `name` dataset under `root` (created if needed) and return what a reader must decode.

    Args:
        name: a registered format name (`obtoolkit.datasets.format_names()`).
        root: the dataset root to write.
        seed: the scenes are a deterministic function of the seed (the files are byte-identical).
        n_frames: frames to write (>= 2, so that train and test splits are both non-empty).
        shape_hw: image size (H, W), at least 8 x 8.
    """
    get_format(name)  # the same one-line error for an unknown name
    if n_frames < 2 or min(shape_hw) < 8:
        raise ValueError(f"expected n_frames >= 2 and a size of at least 8 x 8, got {n_frames}, {shape_hw}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    splits, truth = _WRITERS[name](root, np.random.default_rng(seed), tuple(shape_hw), n_frames)
    return SyntheticTree(name, root, splits, truth)


def _first_frame_file(tree: SyntheticTree, role: str) -> Path:
    frame_id = next(iter(tree.truth))
    relative = getattr(get_format(tree.dataset).frame_files(frame_id), role)
    if relative is None:
        raise ValueError(f"{tree.dataset} frames have no {role} file")
    return tree.root / relative


def write_malformed_tree(name: str, root: str | Path, defect: str, *, seed: int = 0) -> tuple[SyntheticTree, Path]:
    """A synthetic tree with one defect; returns the tree and the broken (or removed) file.

    defects: "truncated_png" (the first frame's OB PNG, or image without OB, cut in half); "wrong_shape" (its depth,
    or OB without depth, one column wider); "missing_split" (the first split file removed); "wrong_mat_keys" (iBims:
    the struct lacks mask_transp); "pickled_npy" (NYUD-MT / DIODE: the depth .npy holds a pickled object array).
    """
    if defect not in DEFECTS:
        raise ValueError(f"defect: expected one of {DEFECTS}, got {defect!r}")
    tree = write_synthetic_tree(name, root, seed=seed)
    fmt = get_format(name)
    if defect == "missing_split":
        path = tree.root / next(iter(fmt.split_files.values()))
        path.unlink()
        return tree, path
    has_boundary = "boundary" in fmt.modalities
    has_depth = "depth_m" in fmt.modalities
    if defect == "truncated_png":
        path = _first_frame_file(tree, "boundary" if has_boundary else "image")
        atomic_write_bytes(path, path.read_bytes()[: path.stat().st_size // 2])
    elif defect == "wrong_shape":
        path = _first_frame_file(tree, "depth" if has_depth else "boundary")
        _write_wider(path)
    elif defect == "wrong_mat_keys" and name == "ibims":
        path = _first_frame_file(tree, "depth")
        atomic_write_bytes(path, _mat_bytes({"data": {"depth": np.ones((4, 4)), "mask_invalid": np.ones((4, 4))}}))
    elif defect == "pickled_npy" and name in ("nyudmt", "diode"):
        path = _first_frame_file(tree, "depth")
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, np.array([{"depth": 1.0}], dtype=object), allow_pickle=True)
    else:
        raise ValueError(f"defect {defect!r} does not apply to {name}")
    return tree, path


def _write_wider(path: Path) -> None:
    """Rewrite a depth / OB file one column wider, in its own format."""
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        _write_npy(path, np.concatenate([array, array[:, -1:]], axis=1))
    elif path.suffix == ".mat":
        data = scipy.io.loadmat(path)["data"]
        fields = {f: np.asarray(data[f].reshape(-1)[0]) for f in data.dtype.names}
        fields["depth"] = np.concatenate([fields["depth"], fields["depth"][:, -1:]], axis=1)
        atomic_write_bytes(path, _mat_bytes({"data": fields}))
    else:
        with Image.open(path) as image:
            array = np.asarray(image)
        atomic_write_bytes(path, _png_bytes(np.concatenate([array, array[:, -1:]], axis=1)))

