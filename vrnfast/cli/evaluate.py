"""`vrnfast evaluate`: NME after ICP and IoU of a checkpoint, beside the mean-shape baseline."""
from __future__ import annotations

import sys
from pathlib import Path

from .common import at_least_one, interrupted


def add_parser(sub):
    ev = sub.add_parser("evaluate", help="NME (after ICP) and IoU of a checkpoint, beside the mean-shape baseline")
    ev.add_argument("--checkpoint", required=True, metavar="CK",
                    help="a checkpoint (best.pt / last.pt), a run directory (its best.pt), or a released model's "
                         "name (vrn-unguided)")
    ev.add_argument("--data", default="synthetic", metavar="synthetic|DIR", help="'synthetic' (held-out faces) or a dataset directory")
    ev.add_argument("--n", type=int, metavar="N", help="faces to evaluate (default: 200 synthetic, or the whole directory)")
    ev.add_argument("--json", metavar="OUT.json", help="results JSON (default: eval-CHECKPOINT-DATA.json beside the checkpoint)")
    ev.add_argument("--ced", metavar="OUT.png", help="CED plot PNG (default: beside the JSON)")
    ev.add_argument("--ced-max", dest="ced_max", type=float, default=0.1, metavar="X", help="the CED plot's largest NME")
    ev.add_argument("--html", metavar="REPORT.html",
                    help="also a report page: the metrics, the CED plot, NMEs per yaw bin, the 10 worst faces with "
                         "previews")
    ev.add_argument("--device", default="auto", metavar="auto|cpu|cuda|cuda:N")
    ev.add_argument("--precision", choices=["auto", "float32", "bf16"], default="auto",
                    help="the network's (see reconstruct --precision)")
    ev.add_argument("--batch-size", dest="batch_size", type=int, default=8, metavar="N",
                    help="faces per network batch (default 8)")
    ev.set_defaults(fn=run)


def run(args):
    at_least_one("vrnfast evaluate", args, "n", "batch_size")
    if not args.ced_max > 0:
        sys.exit(f"vrnfast evaluate: --ced-max must be > 0, got {args.ced_max}")
    from ..evaluation.protocol import evaluate, format_table, write_outputs
    from ..checkpoints import CheckpointError, resolve_checkpoint

    try:
        ck = resolve_checkpoint(args.checkpoint)  # a run directory means its best.pt
    except CheckpointError as e:
        sys.exit(f"vrnfast evaluate: {e}")
    stem = f"eval-{ck.stem}-{Path(args.data).name if args.data != 'synthetic' else 'synthetic'}"
    json_path = Path(args.json) if args.json else ck.parent / f"{stem}.json"
    ced_path = Path(args.ced) if args.ced else json_path.with_name(json_path.stem + "-ced.png")
    if args.html and Path(args.html).suffix.lower() != ".html":
        sys.exit(f"vrnfast evaluate: --html {args.html}: the report's file must end in .html")
    worst = None
    if args.html:
        from ..evaluation.report import WorstFaces

        worst = WorstFaces()
    scored = 0

    def on_face(*face):
        nonlocal scored
        scored += 1
        if worst is not None:
            worst(*face)

    try:
        result = evaluate(ck, args.data, n=args.n, batch_size=args.batch_size, device=args.device,
                          precision=args.precision, on_face=on_face)
    except (CheckpointError, ValueError) as e:
        sys.exit(f"vrnfast evaluate: {e}")
    except KeyboardInterrupt:
        interrupted("vrnfast evaluate", f"{scored} faces scored; nothing written (the results are written once "
                                        "every face is scored)")
    print(format_table(result))
    write_outputs(result, json_path, ced_path, x_max=args.ced_max)
    written = [json_path, ced_path]
    if args.html:
        from ..evaluation.report import save_report

        written.append(save_report(args.html, result, ced_path, worst.worst_first()))
    print(f"wrote {', '.join(map(str, written[:-1]))} and {written[-1]}")
