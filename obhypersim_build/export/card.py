"""The dataset card (README.md) of a HuggingFace export: YAML header (licence, splits' files), features, loading,
provenance, licence and citation."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from obtoolkit.shards.parquet import KEY_COLUMN, MEMBERS_METADATA_KEY

PRODUCT_MEANINGS = {
    "rgb": "the tonemapped sRGB preview Hypersim renders (`frame.IIII.tonemap.jpg`), the network's input; JPEG bytes",
    "depth": "Hypersim's `depth_meters`: metres along each pixel's ray (not planar depth), as stored (float16), "
             "NaN where there is no geometry; H lists of W values",
    "ob": "occluder-side occlusion boundaries, 0/255 PNG",
    "instance_contour": "instance contours, 0/255 PNG (MoDOT's target is ob OR instance_contour)",
    "ori": "boundary orientation, P2ORM's 8-bit encoding (127 = none), PNG",
    "ori16": "boundary orientation, precise 16-bit encoding (0 = none), PNG",
    "order": "the `.npz` file's bytes: `order` int8 (H, W, 9), the pixel-pair occlusion order (P2ORM layout), and "
             "`relation_class` uint8 (H, W, 9), the class of each relation (as ob_class)",
    "ob_class": "boundary class per pixel: 0 none, 1 void, 2 inter-object, 3 self-occlusion; PNG",
    "valid": "the pixels the labels were computed on (finite depth > 0 and a render entity), 0/255 PNG; training "
             "ignores the others",
    "stats": "the frame's stats JSON written by `obh generate` (as text)",
}

CITATION = """```bibtex
@inproceedings{roberts2021hypersim,
  author    = {Mike Roberts and Jason Ramapuram and Anurag Ranjan and Atulit Kumar and Miguel Angel Bautista and
               Nathan Paczan and Russ Webb and Joshua M. Susskind},
  title     = {{Hypersim}: A Photorealistic Synthetic Dataset for Holistic Indoor Scene Understanding},
  booktitle = {International Conference on Computer Vision (ICCV)},
  year      = {2021}
}
@inproceedings{xu2026modot,
  author    = {Lintao Xu and Yinghao Wang and Chaohui Wang},
  title     = {Occlusion Boundary and Depth: Mutual Enhancement via Multi-Task Learning},
  booktitle = {IEEE/CVF Winter Conference on Applications of Computer Vision (WACV)},
  year      = {2026}
}
```"""


def dataset_card(index: dict, schema: pa.Schema) -> str:
    """README.md for an export folder described by `index` whose files have `schema`."""
    return "\n".join([_yaml_header(index), _body(index, schema), _features(schema), _loading(), _licence(),
                      "## Citation\n", CITATION, ""])


def _split_counts(index: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in index["shards"]:
        split = entry["name"].split("/")[-1].split("-")[0]
        counts[split] = counts.get(split, 0) + entry["samples"]
    return counts


def _yaml_header(index: dict) -> str:
    files = "".join(f"  - split: {split}\n    path: data/{split}-*\n" for split in _split_counts(index))
    return ("---\nlicense: cc-by-sa-3.0\npretty_name: OB-Hypersim\ntask_categories:\n- depth-estimation\n"
            "- image-segmentation\ntags:\n- occlusion-boundaries\n- monocular-depth\n- hypersim\n- synthetic\n"
            f"configs:\n- config_name: default\n  data_files:\n{files}---\n")


def _body(index: dict, schema: pa.Schema) -> str:
    splits = ", ".join(f"{split}: {count}" for split, count in _split_counts(index).items())
    source, settings = index["source"], index["settings"]
    return (f"# OB-Hypersim\n\nOcclusion-boundary labels and depth for Apple's Hypersim, made by the OB-Hypersim "
            f"toolkit (`obh generate`) and exported with `obh export hf`. One row per frame.\n\n"
            f"- rows: {index['samples']} ({splits}); {len(index['failed'])} frames left out (see `index.json`)\n"
            f"- made by ob-hypersim {index['package_version']} (commit {index['git_sha']}) from a manifest with "
            f"sha256 `{source['manifest_sha256']}`\n"
            f"- order: {'shuffled with seed ' + str(settings['seed']) if settings['shuffle'] else 'manifest order'}; "
            f"splits exported: {settings['splits'] or 'all'}\n"
            f"- `index.json` lists every file with its sha256 and keys; `obh export verify` checks them.\n")


def _features(schema: pa.Schema) -> str:
    members = json.loads(schema.metadata[MEMBERS_METADATA_KEY])
    lines = ["## Features\n", "| column | type | meaning |", "|---|---|---|",
             f"| `{KEY_COLUMN}` | string | `<scene>-<camera>-<frame>`, e.g. `ai_001_001-cam_00-0007` |"]
    for column in members:
        lines.append(f"| `{column}` | {_type_name(schema.field(column).type)} | "
                     f"{PRODUCT_MEANINGS.get(column, f'the `{column}` product')} |")
    manifest = [c for c in schema.names[1:] if c not in members]
    lines.append(f"| {', '.join(f'`{c}`' for c in manifest)} | | the frame's manifest row (the toolkit's "
                 f"manifests/README.md) |")
    return "\n".join(lines) + "\n"


def _type_name(column_type: pa.DataType) -> str:
    """`Image`, `float16 array (2-D nested lists)`, `string`, ..."""
    if pa.types.is_struct(column_type):
        return "Image"
    ndim = 0
    while pa.types.is_list(column_type):
        ndim, column_type = ndim + 1, column_type.value_type
    if not ndim:
        return str(column_type)
    return f"{np.dtype(column_type.to_pandas_dtype()).name} array ({ndim}-D nested lists)"


def _loading() -> str:
    return """## Loading

```python
import io, datasets, numpy as np
ds = datasets.load_dataset("parquet", data_dir="THIS_FOLDER")          # or load_dataset("THIS_FOLDER")
row = ds["train"].with_format("numpy")[0]
rgb, ob = row["rgb"], row["ob"]                    # uint8 (H, W, 3), uint8 (H, W) 0/255
depth_m = row["depth"]                             # float32 (H, W): the float16 values exactly, NaN = no geometry
order = np.load(io.BytesIO(ds["train"][0]["order"]))["order"]   # binary: read it without the numpy format
```

`datasets`' numpy format returns binary values as `numpy.bytes_`, which drops trailing zero bytes (and so breaks
`.npz` files): read binary columns with the default format.

Without `datasets`: `pyarrow.parquet.read_table(...)`, or `obtoolkit.shards.iter_parquet_samples(path)` of the
OB-Hypersim toolkit, which returns the same arrays as its manifest readers.
"""


def _licence() -> str:
    return """## Licence

The labels, depth and images are derived from Apple's Hypersim dataset (https://github.com/apple/ml-hypersim),
licensed under Creative Commons Attribution-ShareAlike 3.0 (CC BY-SA 3.0): if you share this data or anything made
from it, credit Hypersim (Roberts et al., ICCV 2021) and share it under the same licence. The toolkit that made it
is MIT-licensed; its NOTICE file says the same.
"""
