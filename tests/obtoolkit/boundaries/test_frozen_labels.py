"""Every label product of the three modes, frozen by hash: a speed-up (or any refactor) must not change one byte.

The hashes were made by the generator before the round-3 speed-ups (commit 475afd3): one small frame of every
scene family (default, mesh-exact and P2ORM-compatible modes) and the real Hypersim frame in ../shared/fixtures
(default and P2ORM-compatible). A deliberate change to the labels updates them, and says why in its commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from obtoolkit._open3d import open3d_available
from obtoolkit.boundaries import P2ORM_COMPAT, FrameRays, LabelParams, compute_labels

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures"

# family -> (default, mesh_exact, p2orm) hashes of scene 0, frame 0 at 96x128 (scorecard's frames, seed 0)
FAMILY_HASHES = {
    "bathroom": ("63077253b04d5d3d", "4b55a8e1ee098c5f", "21c61402c5c73285"),
    "bedroom": ("d753d10d5d2ee13b", "c97dd23b15443187", "570ecc0953e83833"),
    "containers": ("037e26d23a964778", "8e51b7b8685c225b", "69e5be7155f99e49"),
    "curved": ("3534d9f2b5d31ce6", "58a5573c058dd160", "fa9bf4941af2195a"),
    "flush": ("5ef50d9f00950300", "3fc4e4d197a620f8", "5fadd03c6bfea5a5"),
    "grazing": ("05ef9dc0ac9d338d", "8ee99dded5c123db", "3bea3957eca54dad"),
    "kitchen": ("68aa4b5fbd19b7e6", "b77618bdb81226b8", "6b099b07fdf615f1"),
    "leaning": ("01a060f0e013d2f5", "3038574a576559c7", "c2e3ff6e1234da87"),
    "living_room": ("0f9f4ef825b04382", "da69248c8fe53e49", "15ef54e8c3dd768c"),
    "long_range": ("e5404f9ab0f8a2ae", "d06412fdc93f814d", "55eaa5b3513a79c5"),
    "office": ("2efaffc8e858c999", "1f37d63bf9889787", "b6e601f87ea4283a"),
    "room": ("3fe34252bcd35a4d", "6dddf3f4f8761e65", "368d29e72510eb83"),
    "stairs": ("609ff0d3569c2b1d", "fe44b86a9c1e750d", "6963d470402f062b"),
    "thin_parts": ("73605b64702beff3", "1a358c34ce236eeb", "8921bc83fcb96cdd"),
    "workshop": ("ec20e074731f2859", "12145a6802b68406", "0db6be9bceeb4fd0"),
}
REAL_HASHES = {"default": "5acab80d6167fa00", "p2orm": "ffe4631d4f5c2695"}


def labels_hash(labels) -> str:
    """sha256 (first 16 hex digits) of every field of an OcclusionLabels: name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for field in fields(labels):
        value = getattr(labels, field.name)
        digest.update(field.name.encode())
        if isinstance(value, np.ndarray):
            digest.update(f"{value.dtype}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()[:16]


def family_hashes(family: str, height: int = 96, width: int = 128) -> tuple[str, str, str]:
    from obtoolkit.synth.cameras import ALL_CAMERA_MODELS
    from obtoolkit.synth.families import family_scene
    from obtoolkit.synth.generate import synthetic_scene_name
    from obtoolkit.synth.scorecard import _frames, _labels

    params = LabelParams()
    scene = family_scene(family, 0, 0, synthetic_scene_name(0), ALL_CAMERA_MODELS)
    (geometry, _, caster, camera), = _frames(scene, 0, 0, 1, height, width, params, True)
    rays = FrameRays.from_camera(geometry.M_cam_from_uv, height, width)
    return tuple(labels_hash(_labels(mode, geometry, rays, params, caster, camera, scene, None))
                 for mode in ("default", "mesh_exact", "p2orm"))


def real_hashes() -> dict[str, str]:
    from bench.bench_labels import fixture_inputs

    frame = fixture_inputs()
    rays = FrameRays.from_camera(frame.M_cam_from_uv, *frame.shape_hw)
    return {"default": labels_hash(compute_labels(frame, LabelParams(), rays)),
            "p2orm": labels_hash(compute_labels(frame, P2ORM_COMPAT, rays))}


@pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) is not installed")
@pytest.mark.parametrize("family", sorted(FAMILY_HASHES))
def test_family_labels_are_unchanged(family):
    assert family_hashes(family) == FAMILY_HASHES[family]


@pytest.mark.skipif(not (FIXTURES / "p2orm_compat/ai_037_002_f0000_normals_cam_from_depth.npy").exists(),
                    reason="the real Hypersim fixture (../shared/fixtures) is absent")
def test_real_frame_labels_are_unchanged():
    assert real_hashes() == REAL_HASHES


def test_every_family_is_frozen():
    from obtoolkit.synth.families import FAMILIES

    assert sorted(FAMILY_HASHES) == sorted(FAMILIES)
