"""`vrnfast example`: an example volume (.npy) to mesh or benchmark."""
from __future__ import annotations

import numpy as np


def add_parser(sub):
    e = sub.add_parser("example", help="write an example volume (.npy) to mesh or benchmark")
    e.add_argument("out", metavar="OUT.npy", help="output .npy path")
    e.add_argument("--kind", default="face", choices=["face", "sphere", "torus", "noise"])
    e.add_argument("--shape", type=int, nargs=3, metavar=("D", "H", "W"))
    e.add_argument("--seed", type=int, default=0, metavar="S")
    e.set_defaults(fn=run)


def run(args):
    from ..data import example_volume

    from ..io import atomic_write

    vol = example_volume(args.kind, args.shape, args.seed)
    out = args.out if args.out.endswith(".npy") else args.out + ".npy"  # as np.save names it
    atomic_write(out, lambda f: np.save(f, vol))
    print(f"wrote {out}: {args.kind} volume {vol.shape} {vol.dtype}")
