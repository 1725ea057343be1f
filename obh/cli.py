"""`obh`: one entry point, one group, subcommands registered from the `obh.cmd_*` modules."""

from __future__ import annotations

import errno

import click

from obtoolkit.provenance import package_version

# OSErrors that say something about the user's disk or paths, not about a bug: printed as one line.
_EXPECTED_ERRNOS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENAMETOOLONG: "the file name is too long for this file system",
}


def expected_failure(error: BaseException) -> str | None:
    """The one-line message for a failure that is the input's or the machine's, not the program's; None otherwise.

    Errors raised on purpose by the library (bad input, bad config, malformed override, corrupt or too large file,
    a tree locked by another run) carry their own message naming the file or key. A full disk, a denied permission
    or a read-only file system name the file and say what to do. Anything else is a bug and keeps its traceback.
    """
    from obtoolkit.errors import OBToolkitError, is_disk_full

    if isinstance(error, OBToolkitError):
        return str(error)
    if not isinstance(error, OSError):
        return None
    if is_disk_full(error):
        where = f"{error.filename}: " if error.filename else ""
        return (f"{where}the disk is full ({error.strerror or error}); free some space or choose another output "
                "folder, then run the command again: finished work is kept and resumed")
    if error.errno in _EXPECTED_ERRNOS and error.filename:
        return f"{error.filename}: {_EXPECTED_ERRNOS[error.errno]} ({error.strerror})"
    return None


class _Group(click.Group):
    """The CLI's one error boundary: expected failures (see `expected_failure`) are printed as one clear line with
    exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as error:
            message = expected_failure(error)
            if message is None:
                raise
            raise click.ClickException(message) from error


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_version(), prog_name="obh")
@click.option("-q", "--quiet", count=True, help="Only warnings and errors in the log (-qq: errors only).")
@click.option("-v", "--verbose", count=True, help="Debug messages of this project (-vv: of every library too).")
@click.pass_context
def main(ctx: click.Context, quiet: int, verbose: int) -> None:
    """OB-Hypersim toolkit: Hypersim reading, occlusion-boundary labels, generation, MoDOT training.

    Every command spells shared options the same way: -j/--jobs N (-1: every usable core), -o/--out PATH, config
    overrides as SECTION.KEY=VALUE or --set SECTION.KEY=VALUE, --json for a result that scripts read. Log messages
    go to stderr (INFO by default; -q and -v before the command name change that).
    """
    from obh.options import configure_logging

    ctx.call_on_close(configure_logging(verbose - quiet))


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
