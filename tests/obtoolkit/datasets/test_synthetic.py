from __future__ import annotations

import pytest

from obtoolkit.datasets import format_names, get_format
from obtoolkit.datasets.synthetic import DEFECTS, write_malformed_tree, write_synthetic_tree
from obtoolkit.errors import OBToolkitError


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", format_names())
def test_deterministic_per_seed(name, tmp_path, trees):
    again = write_synthetic_tree(name, tmp_path / "again", seed=0)
    assert _files(again.root) == _files(trees[name].root)
    other = write_synthetic_tree(name, tmp_path / "other", seed=1)
    assert _files(other.root).keys() == _files(again.root).keys() and _files(other.root) != _files(again.root)
    assert {p.name for p in tmp_path.iterdir()} == {"again", "other"}  # nothing written beside the roots


def test_arguments_checked(tmp_path):
    with pytest.raises(OBToolkitError, match="unknown dataset"):
        write_synthetic_tree("kitti", tmp_path)
    with pytest.raises(ValueError, match="n_frames"):
        write_synthetic_tree("ibims", tmp_path, n_frames=1)
    with pytest.raises(ValueError, match="defect"):
        write_malformed_tree("ibims", tmp_path, "bad_luck")
    with pytest.raises(ValueError, match="does not apply"):
        write_malformed_tree("ob_diode", tmp_path, "wrong_mat_keys")


ONLY = {"wrong_mat_keys": ("ibims",), "pickled_npy": ("nyudmt", "diode")}
CASES = [(name, defect) for defect in DEFECTS for name in ONLY.get(defect, format_names())]


@pytest.mark.parametrize(("name", "defect"), CASES)
def test_malformed_file_gives_one_clear_error_naming_it(name, defect, tmp_path):
    tree, broken = write_malformed_tree(name, tmp_path, defect)
    fmt = get_format(name)
    with pytest.raises(OBToolkitError) as caught:
        for split in fmt.split_files:
            for files in fmt.frames(tree.root, split):
                fmt.read_frame(tree.root, files)
    message = str(caught.value)
    assert str(broken) in message and "\n" not in message
    assert ("expected" in message) != ("missing" in message)
