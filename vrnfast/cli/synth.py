"""`vrnfast synth`: synthetic faces in the on-disk dataset format."""
from __future__ import annotations

import sys
from pathlib import Path

from ..models.names import PRESET_NAMES
from .common import interrupted


def add_parser(sub):
    sy = sub.add_parser("synth", help="write synthetic faces in the on-disk dataset format")
    sy.add_argument("--n", type=int, required=True, metavar="N", help="number of samples")
    sy.add_argument("--out", required=True, metavar="DIR", help="output directory")
    sy.add_argument("--preset", default="tiny", choices=PRESET_NAMES, help="image and volume size")
    sy.add_argument("--seed", type=int, default=0, metavar="S")
    sy.set_defaults(fn=run)


def run(args):
    if args.n < 1:
        sys.exit(f"vrnfast synth: --n must be >= 1, got {args.n}")
    from tqdm import tqdm

    from ..data import synthetic_sample, write_index, write_sample
    from ..models import PRESETS

    preset = PRESETS[args.preset]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    try:
        for i in tqdm(range(args.n), desc=f"synth {args.preset}", unit="sample"):
            s = synthetic_sample(i, args.seed, preset.image_size, preset.depth, with_face=True)
            write_sample(out, s["name"], s["image"], s["volume"], s["landmarks"], s["pose"], s["face_verts"])
            names.append(s["name"])
    except KeyboardInterrupt:
        write_index(out, names, preset.image_size, preset.depth)
        interrupted("vrnfast synth", f"{len(names)} of {args.n} faces written to {out}, indexed as a dataset of "
                                     f"{len(names)}")
    write_index(out, names, preset.image_size, preset.depth)
    print(f"wrote {args.n} synthetic faces ({preset.image_size}x{preset.image_size}, depth {preset.depth}) to {out}")
