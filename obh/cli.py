"""`obh`: one entry point, one group, subcommands registered from the `obh.cmd_*` modules."""

from __future__ import annotations

import click

from obtoolkit.provenance import package_version


class _Group(click.Group):
    """Errors the library raises on purpose (bad input, bad config) are printed as one clear line, not a traceback."""

    def invoke(self, ctx: click.Context):
        from obtoolkit.errors import OBToolkitError

        try:
            return super().invoke(ctx)
        except OBToolkitError as error:
            raise click.ClickException(str(error)) from error


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_version(), prog_name="obh")
def main() -> None:
    """OB-Hypersim toolkit: Hypersim reading, occlusion-boundary labels, generation, MoDOT training."""


# Each module defines click commands and lists them in COMMANDS.
COMMAND_MODULES = (
    "obh.cmd_data",
    "obh.cmd_evaluate",
    "obh.cmd_build",
    "obh.cmd_download",
    "obh.cmd_export",
    "obh.cmd_model",
    "obh.cmd_train",
)


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        for command in importlib.import_module(name).COMMANDS:
            main.add_command(command)


_register()
