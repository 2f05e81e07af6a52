"""Training of the VRN models: `vrnfast train` (the main job).

RMSProp (the paper's preset: lr 1e-4, lowered to 1e-5 after 40 epochs; PRESET_TRAINING gives the
smaller presets' schedules), the paper's augmentation, the sigmoid BCE on
every stack's volume (and, for Guided / Multitask, on the landmark heatmaps), fused by default or
in plain PyTorch with --reference. Every sample and its augmentation derive from (seed, epoch,
index), so results do not depend on the number of workers and a resumed run continues bit for bit.
OUT holds last.pt / best.pt (atomic, loadable with weights_only=True), config.json, log.csv (one
row per epoch) and loss.png; with tensorboard=True (--tensorboard, the [tb] extra) also
OUT/tensorboard/, TensorBoard event files: each epoch the scalars of TENSORBOARD_SCALARS (log.csv's
numbers) and a preview of the first validation face's reconstruction. Ctrl-C saves last.pt where
the run stands, then exits.

Several processes: `torchrun --standalone --nproc_per_node N -m vrnfast train --out DIR ...` runs
DistributedDataParallel (NCCL on GPUs, gloo on the CPU); rank r takes every N-th batch of the same
order, and rank 0 alone validates and writes the logs and checkpoints.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import _optional, metrics, runtime
from .augmentation import AugmentParams, _one_thread_per_worker, augment
from ..checkpoints import load_checkpoint, save_checkpoint  # noqa: F401  (load_checkpoint: its home before)
from ..data import FaceDataset, synthetic_sample
from ..data.crop import landmark_box
from ..models import PRESETS, build_model
from ..models import normalize_images as normalize
from ..models.heatmaps import draw as heatmaps
from ..ops.sigmoid_bce import sigmoid_bce

LOG_FIELDS = ["epoch", "step", "lr", "train_loss", "val_loss", "val_iou", "baseline_iou", "samples_per_s"]
VAL_SEED_OFFSET = 1_000_003  # the held-out synthetic faces: another seed, never trained on
# TensorBoard scalar tag -> the log.csv field it plots (one value per epoch, step = the epoch)
TENSORBOARD_SCALARS = {"loss/train": "train_loss", "loss/val": "val_loss", "iou/val": "val_iou",
                       "iou/baseline": "baseline_iou", "lr": "lr", "samples_per_s": "samples_per_s"}
TENSORBOARD_PREVIEW = "preview/val_face_0"  # image tag: [input | front | side] of validation face 0
PREVIEW_SIZE = 128  # the preview's panel height in pixels: (140, 384, 3) for square faces, names included
TENSORBOARD_HINT = _optional.hint("tb")


class TensorBoardUnavailable(_optional.MissingExtra):
    """tensorboard=True without the tensorboard package."""


def summary_writer_class():
    """torch.utils.tensorboard.SummaryWriter; TensorBoardUnavailable, naming the extra, when the
    tensorboard package is missing."""
    return _optional.import_extra("torch.utils.tensorboard", "tb", "TensorBoard logging (--tensorboard) needs the "
                                  "tensorboard package", TensorBoardUnavailable).SummaryWriter


# Per-preset schedules. The paper's: RMSProp at 1e-4, divided by 10 after 40 epochs; the smaller
# presets train on a CPU in minutes, so they take larger steps and a shorter schedule.
PRESET_TRAINING = {
    "paper": dict(epochs=60, epoch_size=8192, lr=1e-4, lr_drop_epoch=40),
    "small": dict(epochs=40, epoch_size=2048, lr=3e-4, lr_drop_epoch=30),
    "tiny": dict(epochs=20, epoch_size=512, lr=1e-3, lr_drop_epoch=15),
}


@dataclass
class TrainConfig:
    model: str = "vrn"
    preset: str = "tiny"
    data: str = "synthetic"
    out: str | None = None
    epochs: int | None = None         # None: the preset's (PRESET_TRAINING)
    epoch_size: int | None = None
    batch_size: int = 8
    lr: float | None = None
    lr_drop_epoch: int | None = None
    lr_drop_factor: float = 0.1
    seed: int = 0
    workers: int = 1
    val_size: int = 64
    reference: bool = False
    augment: bool = True
    augment_on: str = "auto"          # "workers" (C++ in the DataLoader) | "device" (after transfer); auto:
    #                                   device on CUDA (Triton), workers on the CPU
    amp: str = "auto"                 # "bf16" | "off"; auto: bf16 autocast on CUDA, off on the CPU
    device: str = "auto"
    tensorboard: bool = False         # event files in OUT/tensorboard (the [tb] extra)

    def __post_init__(self):
        if self.preset not in PRESET_TRAINING:
            raise ValueError(f"preset must be one of {tuple(PRESET_TRAINING)}, got {self.preset!r}")
        for key, value in PRESET_TRAINING[self.preset].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        for key in ("epochs", "epoch_size", "batch_size", "val_size"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        for key, choices in (("augment_on", ("auto", "workers", "device")), ("amp", ("auto", "bf16", "off"))):
            if getattr(self, key) not in choices:
                raise ValueError(f"{key} must be one of {choices}, got {getattr(self, key)!r}")


# ---- data ---------------------------------------------------------------------------------------

def _generator(*keys):
    """A torch generator seeded from non-negative integer keys (seed, purpose, epoch, index)."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0] >> 1))


class TrainSet(torch.utils.data.Dataset):
    """Sample i of epoch e: synthetic face e * epoch_size + i (or item i of a dataset directory),
    with augmentation parameters drawn from (seed, e, i). Item: (image, volume, landmarks, params).
    With augment_on="workers" the sample comes augmented (on the CPU, in the DataLoader's workers)
    and params is {}; with "device" it comes raw with its parameters, for augment() after transfer."""

    def __init__(self, cfg: TrainConfig, augment_on="workers", backend="auto"):
        p = PRESETS[cfg.preset]
        self.size, self.depth, self.seed = p.image_size, p.depth, cfg.seed
        self.directory = None if cfg.data == "synthetic" else FaceDataset(cfg.data)
        if self.directory is not None and (self.directory.image_size, self.directory.depth) != (self.size, self.depth):
            raise ValueError(f"{cfg.data} holds {self.directory.image_size}x{self.directory.image_size}x"
                             f"{self.directory.depth} samples; preset {cfg.preset} needs {self.size}x{self.size}x{self.depth}")
        # a directory trains on what its validation split leaves (val_indices: validation_set's)
        self.indices, self.val_indices = (None, None) if self.directory is None else \
            directory_split(self.directory, cfg.val_size)
        self.length = cfg.epoch_size if self.directory is None else len(self.indices)
        self.augment, self.augment_on, self.backend = cfg.augment, augment_on, backend
        self.epoch = 0

    def __len__(self):
        return self.length

    def raw(self, i, epoch=None):
        epoch = self.epoch if epoch is None else epoch
        if self.directory is not None:
            return self.directory[self.indices[i]]
        return synthetic_sample(epoch * self.length + i, self.seed, self.size, self.depth)

    def params(self, i) -> AugmentParams:
        return AugmentParams.sample(1, _generator(self.seed, 1, self.epoch, i))

    def __getitem__(self, i):
        _one_thread_per_worker()
        s = self.raw(i)
        image, volume, landmarks = (torch.from_numpy(s[k]) for k in ("image", "volume", "landmarks"))
        if not self.augment:
            return image, volume, landmarks, {}
        params = self.params(i)
        if self.augment_on == "device":
            return image, volume, landmarks, {f.name: getattr(params, f.name)[0] for f in fields(params)}
        image, volume, landmarks = augment(image[None], volume[None], params, landmarks[None], backend=self.backend)
        return image[0], volume[0], landmarks[0], {}


def validation_set(cfg: TrainConfig, train: TrainSet):
    """The fixed held-out set: (images, volumes, landmarks) tensors, not augmented: synthetic faces
    of another seed, or the validation split `train` left of its directory."""
    p = PRESETS[cfg.preset]
    if train.directory is None:
        samples = [synthetic_sample(i, cfg.seed + VAL_SEED_OFFSET, p.image_size, p.depth) for i in range(cfg.val_size)]
    else:
        samples = [train.directory[i] for i in train.val_indices]
    return tuple(torch.from_numpy(np.stack([s[k] for s in samples])) for k in ("image", "volume", "landmarks"))


def directory_split(ds: FaceDataset, val_size):
    """(train indices, validation indices) of a dataset directory. Validation holds whole groups
    of samples (a face's pose variants and its mirror image share a name up to a trailing _N and
    a _Flip: 300W-LP's), chosen by a hash of the group's name, until val_size samples; a dataset
    under 4 x val_size is too small to spare them, and validates on val_size of its own samples."""
    import re
    import warnings
    import zlib

    if len(ds) < 4 * val_size:
        warnings.warn(f"{ds.root}: {len(ds)} samples are too few to hold {val_size} out for validation; "
                      "validating on training samples", RuntimeWarning, stacklevel=2)
        step = max(1, len(ds) // val_size)
        return list(range(len(ds))), list(range(0, len(ds), step))[:val_size]
    groups = {}
    for i, name in enumerate(ds.names):
        groups.setdefault(re.sub(r"_\d+$", "", name.replace("_Flip", "")), []).append(i)
    val = []
    for key in sorted(groups, key=lambda k: (zlib.crc32(k.encode()), k)):
        if len(val) >= val_size:
            break
        val += groups[key]
    held = set(val)
    return [i for i in range(len(ds)) if i not in held], sorted(val)[:val_size]


def training_statistics(train: TrainSet, n=128):
    """(the mean-shape baseline: the mean of n training targets thresholded at 0.5, uint8 tensor;
    the face's share of the image: the median over them of the landmark box's sqrt(w h) / size,
    what `vrnfast reconstruct --bbox` frames new faces by). The first n synthetic faces (all alike
    in distribution), or n samples spread evenly over a directory's sorted names."""
    n = min(n, len(train))
    acc = torch.zeros(train.depth, train.size, train.size)
    shares = []
    spread = train.directory is not None
    for i in (np.linspace(0, len(train) - 1, n).round().astype(int) if spread else range(n)):
        s = train.raw(int(i), epoch=0)
        acc += torch.from_numpy(s["volume"]).float()
        _, _, w, h = landmark_box(s["landmarks"][:, :2])  # the box reconstruct's face_crop frames
        shares.append(np.sqrt(w * h) / train.size)
    return (acc / n > 0.5).to(torch.uint8), float(np.median(shares))


# ---- the loss -----------------------------------------------------------------------------------

def volume_loss(logits, target, reference):
    if reference:
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())
    # the gradient may take the logits' storage: they are an upsampling's output, needed by nothing
    # (contiguous unless the input was channels_last, which carries through the network)
    inplace = logits.dtype == torch.float32 and logits.requires_grad and logits.is_contiguous()
    return sigmoid_bce(logits, target, inplace=inplace)


def loss_of(out, volumes, landmarks, reference):
    loss = sum(volume_loss(v, volumes, reference) for v in out["volume"])
    if out["landmarks"]:
        target = heatmaps(landmarks.to(out["landmarks"][0].dtype), out["landmarks"][0].shape[-1])
        for h in out["landmarks"]:
            loss = loss + (F.binary_cross_entropy_with_logits(h.float(), target.float()) if reference
                           else sigmoid_bce(h, target))
    return loss


# ---- checkpoints --------------------------------------------------------------------------------

def checkpoint_baseline(ck) -> np.ndarray:
    """The mean-shape baseline volume (D, H, W) uint8 a checkpoint carries; for a checkpoint without
    one, recomputed from its training configuration, or (a converted model, trained elsewhere) from
    vrnfast's default training data at its preset."""
    if "baseline_bits" in ck:
        shape = tuple(ck["baseline_shape"])
        return np.unpackbits(ck["baseline_bits"].numpy(), count=int(np.prod(shape))).reshape(shape)
    cfg = ck.get("config") or {"model": ck["model_name"], "preset": ck["preset"]}
    return training_statistics(TrainSet(TrainConfig(**cfg)))[0].numpy()


# ---- the loop -----------------------------------------------------------------------------------

def _distributed():
    """(rank, world size) under torchrun (WORLD_SIZE > 1), joining the process group; else (0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


class Trainer:
    def __init__(self, cfg: TrainConfig, resume=False, progress=True):
        self.cfg = cfg
        # before anything else (every rank alike): a missing extra fails the run before it starts
        self._summary_writer = summary_writer_class() if cfg.tensorboard else None
        self.tensorboard = None  # the SummaryWriter while fit() runs (rank 0, tensorboard=True)
        self.rank, self.world = _distributed()
        self.progress = progress and self.rank == 0
        self.out = Path(cfg.out or time.strftime("runs/%Y%m%d-%H%M%S"))
        if self.world > 1 and cfg.out is None:
            raise ValueError("multi-process training needs --out DIR (every rank must write to one run)")
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
        self.device = runtime.torch_device(cfg.device)
        if self.device.type == "cuda" and self.world > 1:
            self.device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', self.rank))}")
        torch.manual_seed(cfg.seed)  # every rank builds the same initial model
        # channels_last on the CPU: a tiny-preset step took 198 ms against 247 ms in NCHW with the
        # in-place loss (2-core AMD EPYC); on CUDA not yet measured, so NCHW
        self.layout = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        self.module = build_model(cfg.model, cfg.preset).to(self.device, memory_format=self.layout)
        self.model = self.module
        if self.world > 1:
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.module, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.opt = torch.optim.RMSprop(self.model.parameters(), lr=cfg.lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda e: 1.0 if e < cfg.lr_drop_epoch else cfg.lr_drop_factor)
        on_cuda = self.device.type == "cuda"
        self.augment_on = cfg.augment_on if cfg.augment_on != "auto" else ("device" if on_cuda else "workers")
        self.amp = (cfg.amp if cfg.amp != "auto" else "bf16" if on_cuda else "off") == "bf16"
        # --reference: the whole step in plain PyTorch, augmentation (grid_sample) included
        self.train_set = TrainSet(cfg, self.augment_on, backend="reference" if cfg.reference else "auto")
        self.val = validation_set(cfg, self.train_set)
        baseline, self.face_fraction = training_statistics(self.train_set)
        self.baseline = baseline.numpy()
        self.baseline_iou = float(np.mean([metrics.iou(self.baseline, g) for g in self.val[1].numpy()]))
        self.epoch, self.step, self.batch_in_epoch, self.best_iou, self.history = 0, 0, 0, -1.0, []
        self.stop_requested = False
        self.on_step = None  # optional callable(trainer) after each step (tests, tools)
        if resume:
            self._restore(load_checkpoint(self.out / "last.pt"))
        if self.rank == 0:
            (self.out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))

    def _state(self):
        return {"model": self.module.state_dict(), "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(), "epoch": self.epoch, "step": self.step,
                "batch_in_epoch": self.batch_in_epoch, "best_iou": self.best_iou, "history": self.history,
                "config": asdict(self.cfg), "model_name": self.cfg.model, "preset": self.cfg.preset,
                # the mean-shape baseline travels with the model, for `vrnfast evaluate`
                "baseline_bits": torch.from_numpy(np.packbits(self.baseline.ravel())),
                "baseline_shape": list(self.baseline.shape), "face_fraction": self.face_fraction}

    def _restore(self, st):
        saved = TrainConfig(**st["config"])
        for f in ("model", "preset", "data", "epoch_size", "batch_size", "seed"):
            if getattr(saved, f) != getattr(self.cfg, f):
                raise ValueError(f"--resume: {self.out / 'last.pt'} was trained with {f}={getattr(saved, f)!r}, "
                                 f"not {getattr(self.cfg, f)!r}")
        self.module.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        self.epoch, self.step, self.batch_in_epoch = st["epoch"], st["step"], st["batch_in_epoch"]
        self.best_iou, self.history = st["best_iou"], list(st["history"])

    def request_stop(self, *_):
        self.stop_requested = True

    def _loader(self):
        self.train_set.epoch = self.epoch
        order = torch.randperm(len(self.train_set), generator=_generator(self.cfg.seed, 2, self.epoch))
        batches = [order[i:i + self.cfg.batch_size].tolist() for i in range(0, len(order), self.cfg.batch_size)]
        # with several processes, rank r takes every world-th batch (whole steps only: ranks must agree)
        steps = len(batches) // self.world
        mine = [batches[k * self.world + self.rank] for k in range(steps)]
        return torch.utils.data.DataLoader(self.train_set, batch_sampler=mine[self.batch_in_epoch:],
                                           num_workers=self.cfg.workers, persistent_workers=False,
                                           pin_memory=self.device.type == "cuda")

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def to_device(self, images, volumes, landmarks, params):
        """A collated batch -> the model's normalised input, the uint8 targets and the landmarks on
        the device, augmented there when the batch carries its parameters (augment_on="device")."""
        images, volumes, landmarks = (x.to(self.device, non_blocking=True) for x in (images, volumes, landmarks))
        if params:
            images, volumes, landmarks = augment(images, volumes, AugmentParams(**params), landmarks,
                                                 backend=self.train_set.backend)
        return normalize(images).contiguous(memory_format=self.layout), volumes, landmarks

    def train_step(self, images, volumes, landmarks):
        """One optimisation step on a device batch; returns the loss tensor (not synchronised)."""
        with self._autocast():
            out = self.model(images)
        loss = loss_of(out, volumes, landmarks, self.cfg.reference)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss

    @torch.no_grad()
    def validate(self):
        model = self.module  # unwrapped: rank 0 validates alone
        model.eval()
        images, volumes, landmarks = self.val
        losses, ious = [], []
        for i in range(0, len(images), self.cfg.batch_size):
            img = normalize(images[i:i + self.cfg.batch_size].to(self.device)).contiguous(memory_format=self.layout)
            vol = volumes[i:i + self.cfg.batch_size].to(self.device)
            with self._autocast():
                out = model(img)
            losses.append(loss_of(out, vol, landmarks[i:i + self.cfg.batch_size].to(self.device),
                                  reference=True).item() * len(img))
            pred = out["volume"][-1] > 0  # sigmoid > 0.5
            ious += [metrics.iou(p, g) for p, g in zip(pred.cpu().numpy(), vol.cpu().numpy())]
        model.train()
        return sum(losses) / len(images), float(np.mean(ious))

    def fit(self):
        from tqdm import tqdm

        previous = signal.signal(signal.SIGINT, self.request_stop)
        try:
            if self._summary_writer is not None and self.rank == 0:
                # purge_step: a resumed run drops the events a crash left past its last checkpoint
                self.tensorboard = self._summary_writer(str(self.out / "tensorboard"),
                                                        purge_step=self.epoch + 1 if self.epoch else None)
            while self.epoch < self.cfg.epochs:
                loss_sum, seen, t0 = 0.0, 0, time.perf_counter()
                loader = self._loader()
                bar = tqdm(loader, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}", disable=not self.progress,
                           initial=self.batch_in_epoch, total=self.batch_in_epoch + len(loader), unit="batch")
                for batch in bar:
                    images, volumes, landmarks = self.to_device(*batch)
                    loss = self.train_step(images, volumes, landmarks)
                    self.step += 1
                    self.batch_in_epoch += 1
                    self.last_loss = loss.item()
                    loss_sum += self.last_loss * len(images)
                    seen += len(images)
                    bar.set_postfix(loss=f"{self.last_loss:.4f}", samples_s=f"{seen / (time.perf_counter() - t0):.1f}")
                    if self.on_step is not None:
                        self.on_step(self)
                    if self._stop_everywhere():
                        if self.rank == 0:
                            save_checkpoint(self.out / "last.pt", self._state())
                        self._barrier()
                        print(f"\ninterrupted: saved {self.out / 'last.pt'} at epoch {self.epoch + 1}, "
                              f"batch {self.batch_in_epoch}; continue with --resume")
                        return self.history
                self._end_epoch(loss_sum / max(seen, 1), seen / (time.perf_counter() - t0))
        finally:
            signal.signal(signal.SIGINT, previous)
            if self.tensorboard is not None:
                self.tensorboard.close()  # flushes
                self.tensorboard = None
        return self.history

    def summary(self) -> str:
        """The closing line of a run: the last epoch's validation IoU and, when best.pt holds
        another epoch, that epoch's too."""
        last = self.history[-1]
        best = max(self.history, key=lambda r: r["val_iou"])  # the first epoch at the best: best.pt's
        line = f"done: epoch {last['epoch']} val IoU {last['val_iou']:.3f}"
        if best["epoch"] != last["epoch"]:
            line += f"; best.pt is epoch {best['epoch']}'s, val IoU {best['val_iou']:.3f}"
        return (f"{line} (mean-shape baseline {last['baseline_iou']:.3f}); checkpoints in {self.out}")

    def _barrier(self):
        if self.world > 1:
            torch.distributed.barrier()

    def _stop_everywhere(self):
        """A stop requested on any rank (Ctrl-C reaches them all, maybe not in the same step)."""
        if self.world == 1:
            return self.stop_requested
        flag = torch.tensor([1.0 if self.stop_requested else 0.0], device=self.device)
        torch.distributed.all_reduce(flag)
        self.stop_requested = bool(flag.item())
        return self.stop_requested

    def _end_epoch(self, train_loss, samples_per_s):
        if self.world > 1:  # the mean over ranks, as everyone trained on its own batches
            stats = torch.tensor([train_loss, samples_per_s], device=self.device, dtype=torch.float64)
            torch.distributed.all_reduce(stats)
            train_loss, samples_per_s = stats[0].item() / self.world, stats[1].item()
        lr = self.opt.param_groups[0]["lr"]
        self.epoch += 1
        self.batch_in_epoch = 0
        self.sched.step()
        if self.rank == 0:  # rank 0 alone validates and writes; the others wait for it
            val_loss, val_iou = self.validate()
            self.history.append(dict(epoch=self.epoch, step=self.step, lr=lr, train_loss=train_loss,
                                     val_loss=val_loss, val_iou=val_iou, baseline_iou=self.baseline_iou,
                                     samples_per_s=samples_per_s))
            improved = val_iou > self.best_iou
            self.best_iou = max(self.best_iou, val_iou)
            save_checkpoint([self.out / "last.pt"] + [self.out / "best.pt"] * improved, self._state())
            self._write_logs()
            if self.tensorboard is not None:
                self._log_tensorboard(self.history[-1])
            if self.progress:
                print(f"epoch {self.epoch}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, val IoU "
                      f"{val_iou:.3f} (mean-shape baseline {self.baseline_iou:.3f}), {samples_per_s:.1f} samples/s")
        self._barrier()

    @torch.no_grad()
    def preview(self, size=PREVIEW_SIZE):
        """[input | front | side] (vrnfast.viz.render.preview) of the first validation face's
        reconstruction by the current model in eval mode: (size, 3 * size, 3) uint8 for square
        faces. The model's training mode is restored."""
        from ..viz.render import volume_preview

        image = self.val[0][:1]
        model, was_training = self.module, self.module.training
        model.eval()
        try:
            with self._autocast():
                out = model(normalize(image.to(self.device)).contiguous(memory_format=self.layout))
            prob = out["volume"][-1][0].float().sigmoid()
        finally:
            model.train(was_training)
        return volume_preview(image[0].numpy(), prob, size)  # meshed on the device

    def _log_tensorboard(self, row):
        for tag, key in TENSORBOARD_SCALARS.items():
            self.tensorboard.add_scalar(tag, row[key], row["epoch"])
        self.tensorboard.add_image(TENSORBOARD_PREVIEW, self.preview(), row["epoch"], dataformats="HWC")
        self.tensorboard.flush()

    def _write_logs(self):
        with open(self.out / "log.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            w.writeheader()
            for row in self.history:
                w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        from ..viz.plot import plot_training

        plot_training(self.out / "loss.png", self.history, title=f"{self.cfg.model} ({self.cfg.preset})")


def config_from_args(args) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names and v is not None})
