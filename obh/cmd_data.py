"""Commands about Hypersim data: synthetic scenes and the demo."""

from __future__ import annotations

from pathlib import Path

import click

from obh.options import emit, json_option, out_option


@click.command()
@out_option(required=True, positional="OUT", help="Folder for the scenes (a Hypersim root).")
@click.option("--scenes", default=1, show_default=True, type=click.IntRange(min=1), help="Number of scenes.")
@click.option("--frames", default=3, show_default=True, type=click.IntRange(min=1),
              help="Keyframes per camera trajectory.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed (same seed: identical files).")
@click.option("--cameras", default=2, show_default=True, type=click.IntRange(min=1),
              help="Camera trajectories per scene.")
@click.option("--width", default=1024, show_default=True, type=click.IntRange(min=2), help="Image width (pixels).")
@click.option("--height", default=768, show_default=True, type=click.IntRange(min=2), help="Image height (pixels).")
@json_option
def synth(out: Path, scenes: int, frames: int, seed: int, cameras: int, width: int, height: int) -> None:
    """Write synthetic Hypersim scenes under OUT: Hypersim's exact layout and formats, meshes, camera and split
    CSVs, and reference occlusion boundaries computed from the meshes (docs/synthetic_scenes.md)."""
    from tqdm import tqdm

    from obtoolkit.synth.generate import make_synthetic_dataset
    from obtoolkit.treelock import lock_tree

    with lock_tree(out), tqdm(total=scenes * cameras * frames, unit="frame", desc="synth") as bar:
        def advance(frame) -> None:
            bar.set_postfix_str(str(frame), refresh=False)
            bar.update(1)

        names = make_synthetic_dataset(out, scenes=scenes, frames=frames, seed=seed, height=height, width=width,
                                       cameras=cameras, progress=advance)
    emit({"scenes": names, "out": out}, f"wrote {len(names)} scene(s) ({', '.join(names)}) under {out}")


@click.command()
@out_option(param="out_dir", help="Folder for the demo's data, run and report (default: a temporary folder).")
@click.option("--train-steps", type=click.IntRange(min=1), default=None,
              help="Training steps (default: configs/demo_cpu.yaml's, a few hundred).")
def demo(out_dir: Path | None, train_steps: int | None) -> None:
    """The whole story on synthetic data: synth, labels, validation, manifest, training, evaluation, report."""
    from obh.demo import run_demo

    run_demo(out_dir, train_steps=train_steps)


COMMANDS = [synth, demo]
