"""`vrnfast train`: the main job, training a VRN model."""
from __future__ import annotations

import sys
from pathlib import Path

from ..models.names import MODELS, PRESET_NAMES


def add_parser(sub):
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
    t.set_defaults(fn=run)


def run(args):
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
