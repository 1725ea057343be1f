"""Commands about the MoDOT network: converting the authors' checkpoints and predicting on images."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("convert-checkpoint")
@click.argument("official", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--variant", required=True,
              help="Target variant, e.g. modot_swin_large_w7 (official `large07`) or modot_ssr_swin_large_w7.")
@click.option("--max-depth", type=float, required=True,
              help="The official --max_depth the model was trained with (100 for OB-Hypersim, 10 otherwise).")
@click.option("--depth-unit-m", type=float, required=True,
              help="Metres per network depth unit: 3.05 for the official OB-Hypersim models, 1.0 for metres.")
@click.option("--reinit-untrained-laterals", is_flag=True,
              help="For non-Large official models: replace the OB lateral convs built with Swin-L channels "
                   "(never trained, the official network cannot run them) by freshly initialised ones.")
@click.option("--trust-pickle", is_flag=True,
              help="Read a checkpoint that pickles more than tensors (can run code from the file: trusted files only).")
def convert_checkpoint(official: Path, out: Path, variant: str, max_depth: float, depth_unit_m: float,
                       reinit_untrained_laterals: bool, trust_pickle: bool) -> None:
    """Convert an official MoDOT / MoDOT_SSR checkpoint OFFICIAL into our checkpoint format at OUT."""
    from obtoolkit.errors import OBToolkitError
    from training.checkpoints import ConversionError, convert_official_checkpoint

    try:
        convert_official_checkpoint(official, out, variant=variant, max_depth=max_depth, depth_unit_m=depth_unit_m,
                                    reinit_untrained_laterals=reinit_untrained_laterals, trust_pickle=trust_pickle)
    except (ConversionError, OBToolkitError, KeyError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {out} ({variant}, max_depth {max_depth:g}, {depth_unit_m:g} m per depth unit)")


@click.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("image_or_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the pictures (and raw arrays).")
@click.option("--flip-tta", is_flag=True, help="Also run the mirrored image and fuse, as the official evaluation.")
@click.option("--save-raw", is_flag=True, help="Also write depth in metres and boundary probability as .npy.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
def predict(checkpoint: Path, image_or_dir: Path, out_dir: Path, flip_tta: bool, save_raw: bool, device: str) -> None:
    """Predict depth and occlusion boundaries for an image or a folder of images with our CHECKPOINT."""
    from obtoolkit.errors import OBToolkitError
    from training.predict import run_predict

    try:
        written = run_predict(checkpoint, image_or_dir, out_dir, flip_tta=flip_tta, save_raw=save_raw, device=device)
    except OBToolkitError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {len(written)} files to {out_dir}")


COMMANDS = [convert_checkpoint, predict]
