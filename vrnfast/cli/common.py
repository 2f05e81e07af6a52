"""What the `vrnfast` subcommands share: how they end on Ctrl-C."""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

INTERRUPTED = 130  # the exit status of a command ended by SIGINT (128 + 2), as shells report it


def interrupted(prog, done):
    """Ctrl-C: one line on stderr saying what was finished and where it is; exit status 130."""
    print(f"{prog}: interrupted; {done}", file=sys.stderr)
    raise SystemExit(INTERRUPTED)


@contextmanager
def deferred_interrupt():
    """Ctrl-C inside the block takes effect at its end (a KeyboardInterrupt then), so that what the
    block writes is written whole: the files of one face, say. Outside the main thread, where no
    signal handler can be set, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def at_least_one(prog, args, *keys):
    """Exits naming the first of the options `keys` (argparse dests) given below 1."""
    for key in keys:
        value = getattr(args, key, None)
        if value is not None and value < 1:
            sys.exit(f"{prog}: --{key.replace('_', '-')} must be >= 1, got {value}")
