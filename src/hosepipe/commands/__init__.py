"""The subcommands of ``hosepipe``, one module per group.

Each command module has ``add_parsers(sub) -> dict[str, Handler]``: it adds its
subcommands to the argparse sub-parsers ``sub`` and returns the function that runs each
one (``Handler``: parsed arguments in, exit status out). :mod:`hosepipe.cli` lists the
modules in :data:`hosepipe.cli.COMMAND_MODULES`; adding a command group is one module
and one line there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["Handler", "Subparsers"]

Handler = Callable[[argparse.Namespace], int]
Subparsers = argparse._SubParsersAction  # what ``add_subparsers`` returns
