"""The `vrnfast` command line."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from .common import interrupted
from ..io.export import FORMATS
from ..models.names import MODELS, PRESET_NAMES


def _cmd_example(args):
    from ..data import example_volume

    from ..io import atomic_write

    vol = example_volume(args.kind, args.shape, args.seed)
    out = args.out if args.out.endswith(".npy") else args.out + ".npy"  # as np.save names it
    atomic_write(out, lambda f: np.save(f, vol))
    print(f"wrote {out}: {args.kind} volume {vol.shape} {vol.dtype}")


def _cmd_train(args):
    from ..training.trainer import TensorBoardUnavailable, Trainer, config_from_args

    try:
        cfg = config_from_args(args)
    except ValueError as e:
        sys.exit(f"vrnfast train: {e}")
    if args.resume and not cfg.out:
        sys.exit("vrnfast train: --resume needs --out DIR (the run to continue)")
    if args.resume and not (Path(cfg.out) / "last.pt").is_file():
        sys.exit(f"vrnfast train: --resume: no {Path(cfg.out) / 'last.pt'} to continue from")
    try:
        trainer = Trainer(cfg, resume=args.resume)
    except (ValueError, TensorBoardUnavailable) as e:
        sys.exit(f"vrnfast train: {e}")
    if trainer.rank == 0:
        ranks = f" x {trainer.world} processes" if trainer.world > 1 else ""
        how = ([f"augmentation on the {'device' if trainer.augment_on == 'device' else 'DataLoader workers'}"
                if cfg.augment else "no augmentation"] + ["bf16 autocast"] * trainer.amp
               + [f"TensorBoard events in {trainer.out / 'tensorboard'}"] * cfg.tensorboard)
        print(f"training {cfg.model} ({cfg.preset}) on {cfg.data} -> {trainer.out} on {trainer.device}{ranks}"
              f"{' with plain PyTorch ops (--reference)' if cfg.reference else ''} ({', '.join(how)})")
    history = trainer.fit()
    if trainer.stop_requested:
        sys.exit(130)
    if history and trainer.rank == 0:
        print(trainer.summary())


def _cmd_synth(args):
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


def _cmd_reconstruct(args):
    from .reconstruct import main as reconstruct

    reconstruct(args)


def _cmd_convert(args):
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


def _cmd_fetch(args):
    from ..checkpoints.released import WeightsUnavailable, fetch

    try:
        path = fetch(args.name)
    except WeightsUnavailable as e:
        sys.exit(f"vrnfast fetch: {e}")
    except KeyboardInterrupt:
        interrupted("vrnfast fetch", "nothing was kept (the download starts over next time)")
    print(path)


def _cmd_evaluate(args):
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


def _cmd_prepare(args):
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


def _cmd_mesh(args):
    from .. import io, marching_cubes

    path = Path(args.volume)
    if not path.exists():
        sys.exit(f"vrnfast mesh: no such file: {path}")
    try:
        vol = np.load(path, mmap_mode="r")
    except ValueError as e:
        sys.exit(f"vrnfast mesh: {path} is not a .npy array ({e})")
    if vol.ndim == 4 and vol.shape[0] == 1:
        vol = vol[0]
    t0 = time.perf_counter()
    try:
        verts, faces = marching_cubes(np.asarray(vol), level=args.level, backend=args.backend)
    except (TypeError, ValueError) as e:
        sys.exit(f"vrnfast mesh: {e}")
    dt = time.perf_counter() - t0
    if args.image_coords:  # a reflection (d and w swap places): reverse the winding with it
        verts, faces = io.volume_to_image(verts, z_scale=args.z_scale), faces[:, ::-1]
    io.save_mesh(args.out, verts, faces)
    print(f"wrote {args.out}: {len(verts)} vertices, {len(faces)} triangles (marching cubes {dt * 1e3:.1f} ms)")


def _cmd_info(args):
    import platform

    from .. import __version__, _backend

    print(f"vrnfast {__version__}  Python {platform.python_version()}  numpy {np.__version__}")
    try:
        import torch

        cuda = torch.cuda.is_available()
        print(f"torch {torch.__version__}  CUDA available: {cuda}"
              + (f" ({torch.cuda.get_device_name()})" if cuda else ""))
    except ImportError:
        print("torch: not installed")
    try:
        import triton

        print(f"triton {triton.__version__}")
    except ImportError:
        print("triton: not installed")
    print(f"C++ extension vrnfast._C: built, {_backend.get_num_threads()} threads")
    try:
        _backend.cuda_ext()
        print("CUDA extension vrnfast._cuda: built, runs here")
    except RuntimeError as e:
        print(f"CUDA extension vrnfast._cuda: {e}")
    from ..models import MODELS, PRESETS, describe

    print("\nmodels (shapes per sample; every stack's output is supervised):")
    print(f"{'model':9s} {'preset':6s} {'parameters':>10s}  {'input':11s}  {'volume per stack':18s}  landmarks per stack")
    for model in [args.model] if args.model else MODELS:
        for preset in [args.preset] if args.preset else PRESETS:
            d = describe(model, preset)
            print(f"{model:9s} {preset:6s} {d['parameters']:>10,d}  {'3x{0}x{0}'.format(d['image_size']):11s}  "
                  f"{_per_stack(d['volume']):18s}  {_per_stack(d['landmarks'])}")


def _per_stack(shapes):
    """[(1, C, H, W)] * stacks -> 'stacks x CxHxW' ('-' for none)."""
    return f"{len(shapes)} x {'x'.join(map(str, shapes[-1][1:]))}" if shapes else "-"


def build_parser():
    from .. import __version__

    p = argparse.ArgumentParser(prog="vrnfast", description=__doc__)
    p.add_argument("--version", action="version", version=f"vrnfast {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("example", help="write an example volume (.npy) to mesh or benchmark")
    e.add_argument("out", metavar="OUT.npy", help="output .npy path")
    e.add_argument("--kind", default="face", choices=["face", "sphere", "torus", "noise"])
    e.add_argument("--shape", type=int, nargs=3, metavar=("D", "H", "W"))
    e.add_argument("--seed", type=int, default=0, metavar="S")
    e.set_defaults(fn=_cmd_example)

    t = sub.add_parser("train", help="train a VRN model (the main job)")
    t.add_argument("--model", default="vrn", choices=MODELS)
    t.add_argument("--preset", default="tiny", choices=PRESET_NAMES)
    t.add_argument("--data", default="synthetic", metavar="synthetic|DIR", help="'synthetic' (built in) or a dataset directory")
    t.add_argument("--out", metavar="DIR", help="run directory (default runs/<date-time>)")
    t.add_argument("--epochs", type=int, metavar="N")
    t.add_argument("--epoch-size", dest="epoch_size", type=int, metavar="N", help="synthetic samples per epoch")
    t.add_argument("--batch-size", dest="batch_size", type=int, metavar="N")
    t.add_argument("--lr", type=float, metavar="LR")
    t.add_argument("--seed", type=int, metavar="S")
    t.add_argument("--val-size", dest="val_size", type=int, metavar="N", help="validation faces (default 64)")
    t.add_argument("--workers", type=int, metavar="N", help="DataLoader workers (default 1)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    t.add_argument("--reference", action="store_true",
                   help="plain PyTorch loss and augmentation (grid_sample), to compare with the fused ops")
    t.add_argument("--no-augment", dest="augment", action="store_false", help="train without augmentation")
    t.add_argument("--augment-on", dest="augment_on", choices=["auto", "workers", "device"],
                   help="where augmentation runs: C++ in the DataLoader workers, or on the training device after "
                        "the transfer (Triton on CUDA); default: device on CUDA, workers on the CPU")
    t.add_argument("--amp", choices=["auto", "bf16", "off"],
                   help="bf16 autocast of the network (default: on for CUDA, off on the CPU)")
    t.add_argument("--device", metavar="cpu|cuda|cuda:N", help="cpu, cuda or cuda:N (default: cuda when available)")
    t.add_argument("--lr-drop-epoch", dest="lr_drop_epoch", type=int, metavar="E", help="epoch after which lr is divided by 10")
    t.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files to OUT/tensorboard: each epoch's losses, IoUs, lr, "
                        "samples/s and a preview of a validation face's reconstruction (the tb extra)")
    t.set_defaults(fn=_cmd_train)

    r = sub.add_parser("reconstruct", help="photos, folders, videos -> a textured mesh and a record per face")
    r.add_argument("images", nargs="+", metavar="INPUT",
                   help="image files (any format Pillow reads), folders of them (read recursively) or videos "
                        "(the video extra)")
    r.add_argument("--checkpoint", required=True, metavar="CK",
                   help="a checkpoint written by vrnfast train (best.pt / last.pt), its run directory (its best.pt), a "
                        "converted file, or a released model's name: vrn-unguided (the authors' VRN, downloaded and "
                        "converted into the cache on first use)")
    r.add_argument("-o", "--out", metavar="OUT.obj|.glb|.ply|.html|DIR", help="output .obj / .glb / .ply / .html (one image) or directory (default: here)")
    r.add_argument("--format", default="obj", choices=list(FORMATS),
                   help="mesh format when -o is a directory: obj (+ .mtl + .png texture: the photo), glb (binary "
                        "glTF, texture inside, y up), ply (vertex colours), html (a page showing the textured face "
                        "in 3-D beside the photo, landmarks toggled; opens from disk, no network)")
    r.add_argument("--every", type=int, default=1, metavar="N", help="a video's every N-th frame (default: all)")
    r.add_argument("--preview", metavar="PNG|DIR", help="preview PNG (one image) or directory: the crop beside the mesh from the front (coloured, "
                        "and shaded without colour: the shape alone) and from the side")
    r.add_argument("--bbox", metavar="x,y,w,h", help="x,y,w,h face box in pixels, instead of finding the faces")
    r.add_argument("--landmarks", metavar="FILE", help="68 (x, y) points of the face (.txt, .npy or .json), instead of finding the faces")
    r.add_argument("--detector", default="auto", choices=["auto", "hog", "cnn", "none"],
                   help="how faces are found (the faces extra: dlib): auto (HOG, then the CNN where HOG finds none), "
                        "hog, cnn; none: the centred square, for images that are face crops already")
    r.add_argument("--faces", default="all", choices=["all", "largest"],
                   help="every face found (a mesh each, numbered left to right), or the largest only")
    r.add_argument("--model", choices=MODELS, help="check the checkpoint is of this model")
    r.add_argument("--preset", choices=PRESET_NAMES, help="check the checkpoint is of this preset")
    r.add_argument("--z-scale", dest="z_scale", type=float, metavar="S",
                   help="depth scale of the volume's slices in pixels (default: the checkpoint's; 1 for vrnfast's "
                        "training, 0.5 for the authors' model converted by vrnfast convert)")
    r.add_argument("--device", default="auto", metavar="auto|cpu|cuda|cuda:N", help="cpu, cuda or cuda:N (default: cuda when available)")
    r.add_argument("--batch-size", dest="batch_size", type=int, default=8, metavar="N",
                   help="faces per network batch (default 8)")
    r.add_argument("--precision", choices=["auto", "float32", "bf16"], default="auto",
                   help="the network's: bf16 autocast on CUDA and on CPUs with native bf16 (AMX, AVX-512 BF16), "
                        "float32 elsewhere (auto); or force one")
    r.set_defaults(fn=_cmd_reconstruct)

    cv = sub.add_parser("convert", help="the authors' Torch7 VRN (vrn-unguided.t7) -> a vrnfast checkpoint")
    cv.add_argument("model", metavar="MODEL.t7", help="the authors' released model, e.g. vrn-unguided.t7")
    cv.add_argument("-o", "--out", metavar="OUT.pt", help="the checkpoint to write (default: MODEL.pt beside it)")
    cv.add_argument("--force", action="store_true", help="replace an existing output")
    cv.set_defaults(fn=_cmd_convert)

    from ..checkpoints.released import RELEASES

    fe = sub.add_parser("fetch", help="download a released model (the authors' VRN) and convert it into the cache, "
                                      "once; prints the checkpoint's path")
    fe.add_argument("name", choices=sorted(RELEASES), help="the released model")
    fe.set_defaults(fn=_cmd_fetch)

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
    ev.set_defaults(fn=_cmd_evaluate)

    pr = sub.add_parser("prepare", help="300W-LP / AFLW2000-3D (+ the BFM) -> the on-disk dataset format")
    pr.add_argument("kind", choices=["300wlp", "aflw2000"])
    pr.add_argument("--root", required=True, metavar="DIR", help="the release's folder (images with their .mat files)")
    pr.add_argument("--bfm", required=True, metavar="BFM.mat", help="BFM.mat with the 3DDFA expression basis (face3d's layout)")
    pr.add_argument("--out", required=True, metavar="DIR", help="output dataset directory (resumable: existing samples kept)")
    pr.add_argument("--preset", default="paper", choices=PRESET_NAMES, help="image and volume size")
    pr.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)), metavar="N", help="processes")
    pr.add_argument("--limit", type=int, metavar="N", help="only the first N samples (sorted by path)")
    pr.set_defaults(fn=_cmd_prepare)

    sy = sub.add_parser("synth", help="write synthetic faces in the on-disk dataset format")
    sy.add_argument("--n", type=int, required=True, metavar="N", help="number of samples")
    sy.add_argument("--out", required=True, metavar="DIR", help="output directory")
    sy.add_argument("--preset", default="tiny", choices=PRESET_NAMES, help="image and volume size")
    sy.add_argument("--seed", type=int, default=0, metavar="S")
    sy.set_defaults(fn=_cmd_synth)

    m = sub.add_parser("mesh", help="marching cubes of a saved volume -> OBJ/PLY")
    m.add_argument("volume", metavar="VOLUME.npy", help="a 3-D .npy volume (D, H, W)")
    m.add_argument("-o", "--out", required=True, metavar="OUT.obj|.ply", help="output .obj or .ply")
    m.add_argument("--level", type=float, default=0.5, metavar="X", help="the iso-level (default 0.5)")
    m.add_argument("--backend", default="auto", choices=["auto", "cpp", "reference"])
    m.add_argument("--image-coords", action="store_true",
                   help="write vertices as image (x, y, z) instead of volume (d, h, w) indices")
    m.add_argument("--z-scale", type=float, default=1.0, metavar="S", help="depth scale with --image-coords")
    m.set_defaults(fn=_cmd_mesh)

    i = sub.add_parser("info", help="versions, available backends, and every model's size at every preset")
    i.add_argument("--model", choices=MODELS, help="only this model (default: all)")
    i.add_argument("--preset", choices=PRESET_NAMES, help="only this preset (default: all)")
    i.set_defaults(fn=_cmd_info)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "synth" and args.n < 1:
        sys.exit(f"vrnfast synth: --n must be >= 1, got {args.n}")
    for key in ("n", "batch_size", "workers", "limit"):
        value = getattr(args, key, None)
        if args.command in ("evaluate", "reconstruct", "prepare") and value is not None and value < 1:
            sys.exit(f"vrnfast {args.command}: --{key.replace('_', '-')} must be >= 1, got {value}")
    if args.command == "evaluate" and not args.ced_max > 0:
        sys.exit(f"vrnfast evaluate: --ced-max must be > 0, got {args.ced_max}")
    if args.command == "mesh" and Path(args.out).suffix.lower() not in (".obj", ".ply"):
        sys.exit(f"vrnfast mesh: --out must end in .obj or .ply, got {args.out}")
    try:
        args.fn(args)
    except KeyboardInterrupt:  # the commands that write as they go say what they finished
        interrupted(f"vrnfast {args.command}", "stopped before it finished")
    except BrokenPipeError:  # `vrnfast info | head`: the reader has gone; end quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        sys.exit(1)


if __name__ == "__main__":
    main()
