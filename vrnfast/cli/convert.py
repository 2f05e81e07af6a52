"""`vrnfast convert`: the authors' Torch7 VRN as a vrnfast checkpoint."""
from __future__ import annotations

import sys
import time
from pathlib import Path


def add_parser(sub):
    cv = sub.add_parser("convert", help="the authors' Torch7 VRN (vrn-unguided.t7) -> a vrnfast checkpoint")
    cv.add_argument("model", metavar="MODEL.t7", help="the authors' released model, e.g. vrn-unguided.t7")
    cv.add_argument("-o", "--out", metavar="OUT.pt", help="the checkpoint to write (default: MODEL.pt beside it)")
    cv.add_argument("--force", action="store_true", help="replace an existing output")
    cv.set_defaults(fn=run)


def run(args):
    from ..checkpoints.torch7 import ConversionError, convert

    out = Path(args.out) if args.out else Path(args.model).with_suffix(".pt")
    if out.suffix != ".pt":
        sys.exit(f"vrnfast convert: -o {out}: the checkpoint must end in .pt")
    if out.exists() and not args.force:
        sys.exit(f"vrnfast convert: {out} exists (--force replaces it)")
    t0 = time.perf_counter()
    try:
        convert(args.model, out)
    except ConversionError as e:
        sys.exit(f"vrnfast convert: {e}")
    print(f"wrote {out}: the authors' VRN (vrn at the paper preset; RGB in [0, 1], z scale 0.5), checked against "
          f"the file's own graph, in {time.perf_counter() - t0:.1f} s")
