"""The `vrnfast` command line."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _cmd_example(args):
    from .data import example_volume

    vol = example_volume(args.kind, args.shape, args.seed)
    np.save(args.out, vol)
    print(f"wrote {args.out}: {args.kind} volume {vol.shape} {vol.dtype}")


def _cmd_train(args):
    from .train import Trainer, config_from_args

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
    except ValueError as e:
        sys.exit(f"vrnfast train: {e}")
    if trainer.rank == 0:
        ranks = f" x {trainer.world} processes" if trainer.world > 1 else ""
        how = [f"augmentation on the {'device' if trainer.augment_on == 'device' else 'DataLoader workers'}"
               if cfg.augment else "no augmentation"] + ["bf16 autocast"] * trainer.amp
        print(f"training {cfg.model} ({cfg.preset}) on {cfg.data} -> {trainer.out} on {trainer.device}{ranks}"
              f"{' with plain PyTorch ops (--reference)' if cfg.reference else ''} ({', '.join(how)})")
    history = trainer.fit()
    if trainer.stop_requested:
        sys.exit(130)
    if history and trainer.rank == 0:
        last = history[-1]
        print(f"done: val IoU {last['val_iou']:.3f} against the mean-shape baseline's {last['baseline_iou']:.3f}; "
              f"checkpoints in {trainer.out}")


def _cmd_synth(args):
    from tqdm import tqdm

    from .data import synthetic_sample, write_index, write_sample
    from .models import PRESETS

    preset = PRESETS[args.preset]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for i in tqdm(range(args.n), desc=f"synth {args.preset}", unit="sample"):
        s = synthetic_sample(i, args.seed, preset.image_size, preset.depth)
        write_sample(out, s["name"], s["image"], s["volume"], s["landmarks"])
        names.append(s["name"])
    write_index(out, names, preset.image_size, preset.depth)
    print(f"wrote {args.n} synthetic faces ({preset.image_size}x{preset.image_size}, depth {preset.depth}) to {out}")


def _cmd_mesh(args):
    from . import io, marching_cubes

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
    if args.image_coords:
        verts = io.volume_to_image(verts, z_scale=args.z_scale)
    io.save_mesh(args.out, verts, faces)
    print(f"wrote {args.out}: {len(verts)} vertices, {len(faces)} triangles (marching cubes {dt * 1e3:.1f} ms)")


def _cmd_info(args):
    import platform

    from . import __version__, _backend

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
    print(f"CUDA extension vrnfast._cuda: {'built' if _backend.has_cuda_ext() else 'not built'}")
    if args.model or args.preset:
        from .models import MODELS, PRESETS, describe

        for model in [args.model] if args.model else MODELS:
            for preset in [args.preset] if args.preset else PRESETS:
                d = describe(model, preset)
                lm = f", landmarks {d['landmarks'][-1]} x {len(d['landmarks'])}" if d["landmarks"] else ""
                print(f"{model:9s} {preset:5s} {d['parameters'] / 1e6:7.2f}M parameters; volume "
                      f"{d['volume'][-1]} x {len(d['volume'])} stacks{lm}")


def build_parser():
    p = argparse.ArgumentParser(prog="vrnfast", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("example", help="write an example volume (.npy) to mesh or benchmark")
    e.add_argument("out", help="output .npy path")
    e.add_argument("--kind", default="face", choices=["face", "sphere", "torus", "noise"])
    e.add_argument("--shape", type=int, nargs=3, metavar=("D", "H", "W"))
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(fn=_cmd_example)

    t = sub.add_parser("train", help="train a VRN model (the main job)")
    t.add_argument("--model", default="vrn", choices=["vrn", "guided", "multitask"])
    t.add_argument("--preset", default="tiny", choices=["tiny", "small", "paper"])
    t.add_argument("--data", default="synthetic", help="'synthetic' (built in) or a dataset directory")
    t.add_argument("--out", help="run directory (default runs/<date-time>)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--epoch-size", dest="epoch_size", type=int, help="synthetic samples per epoch")
    t.add_argument("--batch-size", dest="batch_size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--workers", type=int, help="DataLoader workers (default 1)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    t.add_argument("--reference", action="store_true",
                   help="plain PyTorch loss and augmentation (grid_sample), to compare with the fused ops")
    t.add_argument("--no-augment", dest="augment", action="store_false", help="train without augmentation")
    t.add_argument("--augment-on", dest="augment_on", choices=["auto", "workers", "device"],
                   help="where augmentation runs: C++ in the DataLoader workers, or on the training device after "
                        "the transfer (Triton on CUDA); default: device on CUDA, workers on the CPU")
    t.add_argument("--amp", choices=["auto", "bf16", "off"],
                   help="bf16 autocast of the network (default: on for CUDA, off on the CPU)")
    t.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    t.add_argument("--lr-drop-epoch", dest="lr_drop_epoch", type=int, help="epoch after which lr is divided by 10")
    t.set_defaults(fn=_cmd_train)

    sy = sub.add_parser("synth", help="write synthetic faces in the on-disk dataset format")
    sy.add_argument("--n", type=int, required=True, help="number of samples")
    sy.add_argument("--out", required=True, help="output directory")
    sy.add_argument("--preset", default="tiny", choices=["tiny", "small", "paper"], help="image and volume size")
    sy.add_argument("--seed", type=int, default=0)
    sy.set_defaults(fn=_cmd_synth)

    m = sub.add_parser("mesh", help="marching cubes of a saved volume -> OBJ/PLY")
    m.add_argument("volume", help="a 3-D .npy volume (D, H, W)")
    m.add_argument("-o", "--out", required=True, help="output .obj or .ply")
    m.add_argument("--level", type=float, default=0.5)
    m.add_argument("--backend", default="auto", choices=["auto", "cpp", "reference"])
    m.add_argument("--image-coords", action="store_true",
                   help="write vertices as image (x, y, z) instead of volume (d, h, w) indices")
    m.add_argument("--z-scale", type=float, default=1.0, help="depth scale with --image-coords")
    m.set_defaults(fn=_cmd_mesh)

    i = sub.add_parser("info", help="versions, available backends, and model sizes")
    i.add_argument("--model", choices=["vrn", "guided", "multitask"], help="print this model's sizes")
    i.add_argument("--preset", choices=["tiny", "small", "paper"], help="at this preset (default: all)")
    i.set_defaults(fn=_cmd_info)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "synth" and args.n < 1:
        sys.exit(f"vrnfast synth: --n must be >= 1, got {args.n}")
    if args.command == "mesh" and Path(args.out).suffix.lower() not in (".obj", ".ply"):
        sys.exit(f"vrnfast mesh: --out must end in .obj or .ply, got {args.out}")
    args.fn(args)


if __name__ == "__main__":
    main()
