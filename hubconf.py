"""torch.hub entry point: `torch.hub.load(REPO_DIR, "modot", source="local", path="model.safetensors")`.

Local files only: the weights come from `path` (one of our checkpoints, an `obh export-model` safetensors file or a
run folder), read without running code from them; nothing is downloaded.
"""

dependencies = ["torch", "safetensors", "numpy"]


def modot(path, device="cpu"):
    """MoDOT in eval mode from a local checkpoint, exported model or run folder (`training.from_pretrained`).

    The model returns `ModotOutput` (depth in network units: multiply by the checkpoint's depth unit for metres;
    `training.from_pretrained(path).predict(rgb)` returns metres and boundary probabilities directly).
    """
    from training.pretrained import from_pretrained

    return from_pretrained(path, device=device).model
