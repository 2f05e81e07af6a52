"""`vrnfast prepare`: 300W-LP / AFLW2000-3D in the on-disk dataset format."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..models.names import PRESET_NAMES
from .common import at_least_one, interrupted


def add_parser(sub):
    pr = sub.add_parser("prepare", help="300W-LP / AFLW2000-3D (+ the BFM) -> the on-disk dataset format")
    pr.add_argument("kind", choices=["300wlp", "aflw2000"])
    pr.add_argument("--root", required=True, metavar="DIR", help="the release's folder (images with their .mat files)")
    pr.add_argument("--bfm", required=True, metavar="BFM.mat", help="BFM.mat with the 3DDFA expression basis (face3d's layout)")
    pr.add_argument("--out", required=True, metavar="DIR", help="output dataset directory (resumable: existing samples kept)")
    pr.add_argument("--preset", default="paper", choices=PRESET_NAMES, help="image and volume size")
    pr.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)), metavar="N", help="processes")
    pr.add_argument("--limit", type=int, metavar="N", help="only the first N samples (sorted by path)")
    pr.set_defaults(fn=run)


def run(args):
    at_least_one("vrnfast prepare", args, "workers", "limit")
    from ..data.threeddfa import FormatError, prepare
    from ..models import PRESETS

    preset = PRESETS[args.preset]
    try:
        report = prepare(args.kind, args.root, args.bfm, args.out, size=preset.image_size, depth=preset.depth,
                         workers=args.workers, limit=args.limit)
    except (FormatError, ValueError) as e:
        sys.exit(f"vrnfast prepare: {e}")
    except KeyboardInterrupt:
        done = len(list(Path(args.out).glob("*.npz"))) if Path(args.out).is_dir() else 0
        interrupted("vrnfast prepare", f"{done} faces are prepared in {args.out}; the same command goes on from there")
    for name, reason in report["skipped"]:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    check = report["landmark_error_px_mean"]
    print(f"{args.out}: {report['written']} faces written, {report['present']} already there, "
          f"{len(report['skipped'])} skipped (listed in {Path(args.out) / 'prepare-report.json'})"
          + (f"; the model's landmarks lie {check:.2f} px from the files' own on average" if check is not None else ""))
    if report["written"] + report["present"] == 0:
        sys.exit("vrnfast prepare: no sample could be prepared")
