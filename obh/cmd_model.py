"""Commands about the MoDOT network: converting the authors' checkpoints, exporting ours, predicting on images."""

from __future__ import annotations

from pathlib import Path

import click

from obh.options import out_option


@click.command("convert-checkpoint")
@click.argument("official", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@out_option(file=True, required=True, positional="OUT", help="The converted checkpoint.")
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
    from training.official_checkpoints import ConversionError, convert_official_checkpoint

    try:
        convert_official_checkpoint(official, out, variant=variant, max_depth=max_depth, depth_unit_m=depth_unit_m,
                                    reinit_untrained_laterals=reinit_untrained_laterals, trust_pickle=trust_pickle)
    except (ConversionError, OBToolkitError, KeyError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {out} ({variant}, max_depth {max_depth:g}, {depth_unit_m:g} m per depth unit)")


@click.command()
@click.argument("checkpoint", type=click.Path(exists=True, path_type=Path))
@click.argument("image_or_dir", type=click.Path(exists=True, path_type=Path))
@out_option(required=True, param="out_dir", help="Folder for the pictures (and raw arrays).")
@click.option("--flip-tta", is_flag=True, help="Also run the mirrored image and fuse, as the official evaluation.")
@click.option("--save-raw", is_flag=True, help="Also write depth in metres and boundary probability as .npy.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--amp", type=click.Choice(["none", "bf16", "fp16"]), default="none", show_default=True,
              help="Autocast precision of the network on CUDA.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Images per forward pass (images of one size are batched together).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Processes reading images.")
def predict(checkpoint: Path, image_or_dir: Path, out_dir: Path, flip_tta: bool, save_raw: bool, device: str,
            amp: str, batch_size: int, workers: int) -> None:
    """Predict depth and occlusion boundaries for an image or a folder of images with our CHECKPOINT (a checkpoint,
    an exported .safetensors model or a run folder). An image that cannot be read is reported and skipped; the
    command then exits with status 1. 16-bit grey images are scaled to 8 bits (value / 257), with a warning."""
    from training.predict import run_predict

    result = run_predict(checkpoint, image_or_dir, out_dir, flip_tta=flip_tta, save_raw=save_raw, device=device,
                         amp=amp, batch_size=batch_size, workers=workers)
    for note in result.notes:
        click.echo(f"warning: {note}", err=True)
    click.echo(f"wrote {len(result.written)} files to {out_dir}")
    if result.failed:
        for line in result.failed[:10]:
            click.echo(f"  failed: {line}", err=True)
        if len(result.failed) > 10:
            click.echo(f"  ... and {len(result.failed) - 10} more", err=True)
        raise click.ClickException(f"{len(result.failed)} of {result.images} images failed (listed above); the "
                                   "others were predicted")


@click.command("export-model")
@click.argument("checkpoint", type=click.Path(exists=True, path_type=Path))
@out_option(file=True, required=True, positional="OUT", help="The weights-only .safetensors file.")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32", show_default=True,
              help="Storage type of the floating-point weights.")
def export_model(checkpoint: Path, out: Path, dtype: str) -> None:
    """Write the weights of CHECKPOINT (a checkpoint file, or a run folder: its checkpoints/last.pt) to OUT as a
    weights-only safetensors file with its metadata (variant, max_depth, depth unit, run config), for predict and
    evaluate; no optimizer state, no pickle."""
    from training.checkpoints import export_model as export

    if checkpoint.is_dir():
        checkpoint = checkpoint / "checkpoints" / "last.pt"
    if not checkpoint.is_file():
        raise click.ClickException(f"{checkpoint}: no checkpoint there")
    path = export(checkpoint, out, dtype=dtype)
    click.echo(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, {dtype}) from {checkpoint}")


COMMANDS = [convert_checkpoint, predict, export_model]
