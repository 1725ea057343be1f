# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # OB-Hypersim in a notebook
#
# From a Hypersim-format scene to occlusion-boundary labels, pictures, a PyTorch `DataLoader` and MoDOT's
# predictions, in a few cells. Everything runs on a laptop CPU in well under a minute: the scene is synthetic
# (`obtoolkit.synth`, Hypersim's exact layout and formats) and the model is the compact `modot_swin_nano_w7`.
#
# Open it as a notebook with `jupytext --to notebook docs/tutorial.py` (or run it as a script: `python
# docs/tutorial.py`). Files go to `tutorial_output/` in the current folder. `tests/test_tutorial.py` runs it.

# %%
# ruff: noqa: E402, B018  (a notebook: imports where they are first used, a cell's last expression is its output)
from pathlib import Path

from PIL import Image

OUT = Path("tutorial_output")
OUT.mkdir(exist_ok=True)

# %% [markdown]
# ## 1. A Hypersim-format scene
# One synthetic scene, one camera trajectory of two frames at 96 x 128 pixels, written in Hypersim's layout
# (`ai_900_001/images/scene_cam_00_geometry_hdf5/frame.0000.depth_meters.hdf5`, ...) with the camera CSV at the root.
# With the real dataset, point `hypersim` at your download instead.

# %%
from obtoolkit.synth import make_synthetic_dataset

hypersim = OUT / "hypersim"
scenes = make_synthetic_dataset(hypersim, scenes=1, frames=2, cameras=1, height=96, width=128, seed=0)
scene = scenes[0]
scene

# %% [markdown]
# ## 2. Labels for one frame, in three lines
# `FrameGeometry.read` reads the frame's geometry (distance along the ray, normals, id maps, valid mask) and its
# camera (the exact rays, tilt-shift included) from the tree; `compute_labels` is a pure function of it. In a
# notebook the labels draw themselves: boundaries by class, instance contours, orientation.

# %%
from obtoolkit.boundaries import compute_labels
from obtoolkit.hypersim import FrameGeometry

geometry = FrameGeometry.read(hypersim, scene, "cam_00", 0)
labels = compute_labels(geometry)
labels

# %% [markdown]
# The labels are arrays: `ob` (occluder-side boundary, bool), `ob_class` (1 void, 2 inter-object,
# 3 self-occlusion), `instance_contour`, `target` (MoDOT's training target), `theta` (orientation, radians),
# `order` (P2ORM's 9-channel relations).

# %%
{name: (getattr(labels, name).dtype, int(getattr(labels, name).sum())) for name in ("ob", "instance_contour", "target")}

# %% [markdown]
# ## 3. Pictures
# `obtoolkit.viz` turns arrays into uint8 RGB pictures: the boundaries over the image, depth in colour, the
# orientation wheel. `contact_sheet` tiles them with captions.

# %%
from obtoolkit import viz
from obtoolkit.hypersim import HypersimLayout, read_rgb_image

rgb = read_rgb_image(HypersimLayout(hypersim).tonemap_path(geometry.frame), what="tonemap")
sheet = viz.contact_sheet([
    ("image", rgb),
    ("boundaries", viz.boundary_overlay(rgb, labels.ob_class)),
    ("distance (m)", viz.depth_to_rgb(geometry.distance_m, geometry.valid_mask)),
    ("orientation", viz.orientation_to_rgb(labels.theta, labels.ob, rgb)),
], columns=4)
viz.save_png(OUT / "labels.png", sheet)
Image.fromarray(sheet)

# %% [markdown]
# ## 4. A dataset and a DataLoader
# `obh generate` (here its function, `generate`) labels every frame into an OB-Hypersim tree with a manifest;
# `ObHypersimDataset` serves its frames as training samples: normalised image, depth in network units, valid mask,
# boundary target, with seeded augmentation. It is a plain `torch.utils.data.Dataset`.

# %%
from torch.utils.data import DataLoader

from obhypersim_build.run import generate
from training.augment import AugmentConfig
from training.data import DataConfig, ObHypersimDataset

labelled = OUT / "ob_hypersim"
generate(hypersim, labelled, progress=False)
dataset = ObHypersimDataset(DataConfig(root=labelled, split="train", augment=AugmentConfig(crop_hw=(64, 96))))
loader = DataLoader(dataset, batch_size=2, shuffle=True)
batch = next(iter(loader))
{"frames": len(dataset), "image": tuple(batch.image.shape), "depth": tuple(batch.depth.shape),
 "boundary pixels": int(batch.boundary.sum()), "names": list(batch.name)}

# %% [markdown]
# ## 5. Predict
# A MoDOT model returns depth and boundary logits. Here an untrained compact one is saved as a checkpoint and loaded
# back with `from_pretrained`, the way a trained one (a run folder, a checkpoint, or an `obh export-model` file)
# is loaded: an eval-mode model and its settings. `predict` takes a uint8 RGB image of any size and returns depth in
# metres and the boundary probability; the prediction draws itself (depth | boundaries). Untrained, it is noise:
# `obh demo` or `obh train --config configs/demo_cpu.yaml` trains this model in minutes.

# %%
import torch

from training import from_pretrained
from training.checkpoints import save_model_checkpoint
from training.models import build_modot

torch.manual_seed(0)
untrained = build_modot("modot_swin_nano_w7", max_depth=10.0)
save_model_checkpoint(OUT / "nano.pt", untrained, variant="modot_swin_nano_w7", max_depth=10.0, depth_unit_m=1.0)
pretrained = from_pretrained(OUT / "nano.pt")
prediction = pretrained.predict(rgb)
viz.save_png(OUT / "prediction.png", prediction.picture())
prediction
