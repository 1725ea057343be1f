"""Scene families: seeded, byte-reproducible, Hypersim-like scenes built around geometry labels find hard."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from obtoolkit._open3d import open3d_available
from obtoolkit.synth.cameras import ALL_CAMERA_MODELS
from obtoolkit.synth.families import (
    ASSET_UNITS,
    FAMILIES,
    HELD_OUT_FAMILIES,
    TUNING_FAMILIES,
    family_scene,
)
from obtoolkit.synth.reference import SELF_OCCLUSION
from obtoolkit.synth.scene import build_scene

needs_open3d = pytest.mark.skipif(not open3d_available(), reason="open3d (the raycast extra) is not installed")


def test_tuning_and_held_out_families_partition_the_registry():
    assert set(TUNING_FAMILIES) | set(HELD_OUT_FAMILIES) == set(FAMILIES)
    assert not set(TUNING_FAMILIES) & set(HELD_OUT_FAMILIES)
    assert "room" in TUNING_FAMILIES and len(HELD_OUT_FAMILIES) >= 2
    assert all(FAMILIES[name].description for name in FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_scenes_are_seeded_and_hypersim_like(family):
    scene = family_scene(family, 1, 7, "ai_900_002")
    again = family_scene(family, 1, 7, "ai_900_002")
    np.testing.assert_array_equal(scene.scene_mesh().vertices_asset, again.scene_mesh().vertices_asset)
    np.testing.assert_array_equal(scene.node_ids, again.node_ids)
    other = family_scene(family, 1, 8, "ai_900_002")
    assert not np.array_equal(scene.node_ids, other.node_ids) or \
        not np.array_equal(scene.scene_mesh().vertices_asset, other.scene_mesh().vertices_asset)
    mesh = scene.scene_mesh()
    np.testing.assert_array_equal(mesh.vertices_asset, mesh.vertices_asset.astype(np.float32))
    points_m = mesh.vertices_asset * scene.meters_per_asset_unit
    assert np.all(points_m > -1e-3) and np.all(points_m < scene.room_size_m + 1e-3)  # inside the room
    assert sorted(scene.node_ids.tolist()) == list(range(1, len(scene.objects) + 1))
    walls = [o for o in scene.objects if o.name.startswith("room_wall")]
    assert walls and all(o.nyu40 == 1 and o.instance == -1 for o in walls)
    assert scene.object_instance.max() >= 1


@pytest.mark.parametrize("index", range(4))
def test_units_and_cameras_are_axes_every_family_crosses(index):
    scene = family_scene("flush", index, 0, "ai_900_001")
    assert scene.camera_model == ALL_CAMERA_MODELS[index % 3]
    assert scene.meters_per_asset_unit == ASSET_UNITS[index % 4]


def test_the_room_family_is_the_original_room():
    rng_scene = build_scene("ai_900_001", np.random.default_rng([0, 0]), "standard")
    family = family_scene("room", 0, 0, "ai_900_001", ("standard", "tilt_shift"))
    np.testing.assert_array_equal(rng_scene.scene_mesh().vertices_asset, family.scene_mesh().vertices_asset)
    assert rng_scene.meters_per_asset_unit == family.meters_per_asset_unit


@needs_open3d
def test_family_datasets_are_byte_reproducible(tmp_path):
    from obtoolkit.synth.generate import make_synthetic_dataset

    def digest(root):
        hashes = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            hashes.update(str(path.relative_to(root)).encode())
            hashes.update(path.read_bytes())
        return hashes.hexdigest()

    kwargs = dict(scenes=3, frames=1, seed=2, height=24, width=32, cameras=1, camera_models=ALL_CAMERA_MODELS,
                  families=("thin_parts", "long_range", "curved"))
    make_synthetic_dataset(tmp_path / "a", **kwargs)
    make_synthetic_dataset(tmp_path / "b", **kwargs)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    with pytest.raises(ValueError, match="families"):
        make_synthetic_dataset(tmp_path / "c", families=("nope",))


@needs_open3d
@pytest.mark.parametrize("family", ["flush", "thin_parts", "containers", "bathroom", "bedroom", "living_room",
                                    "workshop"])
def test_families_hold_self_occlusions(family):
    """What each family is for shows in its references (one small frame each)."""
    from obtoolkit.boundaries import LabelParams
    from obtoolkit.synth.scorecard import _frames

    scene = family_scene(family, 0, 0, "ai_900_001")
    (_, reference, _, _), = _frames(scene, 0, 0, 1, 96, 128, LabelParams(), False)
    assert (reference.relation_class == SELF_OCCLUSION).sum() > 20
