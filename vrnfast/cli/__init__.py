"""The `vrnfast` command line: one module per subcommand, each with its parser (add_parser) beside
its handler (run)."""
from __future__ import annotations

import argparse
import os
import sys

from . import convert, evaluate, example, fetch, info, mesh, prepare, reconstruct, synth, train
from .common import interrupted

COMMANDS = (example, train, reconstruct, convert, fetch, evaluate, prepare, synth, mesh, info)


def build_parser():
    from .. import __version__

    p = argparse.ArgumentParser(prog="vrnfast", description="The `vrnfast` command line.")
    p.add_argument("--version", action="version", version=f"vrnfast {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except KeyboardInterrupt:  # the commands that write as they go say what they finished
        interrupted(f"vrnfast {args.command}", "stopped before it finished")
    except BrokenPipeError:  # `vrnfast info | head`: the reader has gone; end quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        sys.exit(1)


if __name__ == "__main__":
    main()
