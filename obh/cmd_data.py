"""Commands about Hypersim data: synthetic scenes and the demo."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the demo's scene and pictures (default: a temporary folder).")
def demo(out_dir: Path | None) -> None:
    """Run the whole story on a small synthetic scene and write pictures."""
    from obh.demo import run_demo

    run_demo(out_dir)


COMMANDS = [demo]
