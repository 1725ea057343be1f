"""The `obh` command line: parses arguments and dispatches to the library packages.

Command modules import their heavy dependencies (torch, open3d, pyarrow) inside the command bodies so that
`obh --help` stays fast.
"""
