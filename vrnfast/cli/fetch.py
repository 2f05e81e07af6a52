"""`vrnfast fetch`: a released model downloaded, converted and cached."""
from __future__ import annotations

import sys

from .common import interrupted


def add_parser(sub):
    from ..checkpoints.released import RELEASES

    fe = sub.add_parser("fetch", help="download a released model (the authors' VRN) and convert it into the cache, "
                                      "once; prints the checkpoint's path")
    fe.add_argument("name", choices=sorted(RELEASES), help="the released model")
    fe.set_defaults(fn=run)


def run(args):
    from ..checkpoints.released import WeightsUnavailable, fetch

    try:
        path = fetch(args.name)
    except WeightsUnavailable as e:
        sys.exit(f"vrnfast fetch: {e}")
    except KeyboardInterrupt:
        interrupted("vrnfast fetch", "nothing was kept (the download starts over next time)")
    print(path)
