"""The on-disk dataset format, and FaceDataset that reads it.

DIR/index.json  {"format": "vrnfast-faces", "version": 1, "image_size": S, "depth": D,
                 "samples": [name, ...]}
DIR/NAME.npz    image (3, S, S) uint8, volume_bits (packbits of the (D, S, S) 0/1 volume) with
                volume_shape, landmarks (68, 3) float32 in the volume's (x, y, z); optional: pose
                (3,) yaw, pitch, roll in degrees, face_verts (N, 3) float32 points of the
                ground-truth face surface in the volume's (x, y, z) (what NME is measured on);
                compressed.

Samples are read lazily, one file per __getitem__. A corrupt or missing sample file is reported by
name (a warning) and replaced by the next readable sample, so one bad file does not stop a long
run; strict=True raises instead.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..io import atomic_write

import numpy as np

FORMAT = "vrnfast-faces"
VERSION = 1


class DatasetError(ValueError):
    """A dataset directory or sample file that cannot be read, named in the message."""


def write_sample(root, name, image, volume, landmarks, pose=None, face_verts=None):
    """Writes DIR/NAME.npz atomically."""
    image, volume = np.asarray(image), np.asarray(volume)
    landmarks = np.asarray(landmarks, dtype=np.float32)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be uint8 (3, H, W), got {image.dtype} {image.shape}")
    if volume.ndim != 3 or volume.shape[1:] != image.shape[1:]:
        raise ValueError(f"volume must be (D, H, W) with the image's H, W, got {volume.shape}")
    if volume.max(initial=0) > 1:
        raise ValueError("volume must hold 0/1 occupancy")
    if landmarks.shape != (68, 3):
        raise ValueError(f"landmarks must be (68, 3), got {landmarks.shape}")
    extra = {}
    if pose is not None:
        extra["pose"] = np.asarray(pose, dtype=np.float32)
        if extra["pose"].shape != (3,):
            raise ValueError(f"pose must be (yaw, pitch, roll), got shape {extra['pose'].shape}")
    if face_verts is not None:
        extra["face_verts"] = np.asarray(face_verts, dtype=np.float32)
        if extra["face_verts"].ndim != 2 or extra["face_verts"].shape[1] != 3:
            raise ValueError(f"face_verts must be (N, 3), got {extra['face_verts'].shape}")
    bits = np.packbits(volume.astype(np.uint8).ravel())
    atomic_write(Path(root) / f"{name}.npz", lambda f: np.savez_compressed(
        f, image=image, volume_bits=bits, volume_shape=np.array(volume.shape), landmarks=landmarks, **extra))


def write_index(root, names, image_size, depth):
    text = json.dumps({"format": FORMAT, "version": VERSION, "image_size": image_size, "depth": depth,
                       "samples": list(names)}, indent=1)
    atomic_write(Path(root) / "index.json", lambda f: f.write(text.encode()))


def read_sample(path):
    """One sample file -> dict(image, volume, landmarks, name); DatasetError naming the file."""
    path = Path(path)
    try:
        with np.load(path) as z:
            shape = tuple(int(s) for s in z["volume_shape"])
            bits = z["volume_bits"]
            volume = np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape)
            sample = {"image": z["image"], "volume": volume, "landmarks": z["landmarks"].astype(np.float32),
                      "name": path.stem}
            for key in ("pose", "face_verts"):
                if key in z.files:
                    sample[key] = z[key].astype(np.float32)
    except FileNotFoundError:
        raise DatasetError(f"missing sample file {path}") from None
    except Exception as e:  # zipfile, zlib, KeyError, ValueError...: all mean a damaged file
        raise DatasetError(f"corrupt sample file {path}: {type(e).__name__}: {e}") from None
    if sample["image"].shape != (3, *shape[1:]) or sample["landmarks"].shape != (68, 3):
        raise DatasetError(f"corrupt sample file {path}: shapes image {sample['image'].shape}, volume {shape}, "
                           f"landmarks {sample['landmarks'].shape}")
    return sample


class FaceDataset:
    """Samples of a dataset directory (written by `vrnfast synth` or `vrnfast prepare`), as dicts of
    numpy arrays: image (3, S, S) uint8, volume (D, S, S) uint8, landmarks (68, 3) float32, name,
    and pose (3,) / face_verts (N, 3) where the files hold them."""

    def __init__(self, root, strict=False):
        self.root = Path(root)
        index = self.root / "index.json"
        if not index.is_file():
            raise DatasetError(f"{self.root} is not a vrnfast dataset: no index.json (write one with vrnfast synth)")
        try:
            meta = json.loads(index.read_text())
        except json.JSONDecodeError as e:
            raise DatasetError(f"corrupt {index}: {e}") from None
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise DatasetError(f"{index} is not a {FORMAT} v{VERSION} index: {meta.get('format')} v{meta.get('version')}")
        self.names = list(meta["samples"])
        self.image_size, self.depth = int(meta["image_size"]), int(meta["depth"])
        self.strict = strict
        self.bad = set()

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} of a dataset of {len(self)}")
        i %= len(self)
        for k in range(len(self)):
            j = (i + k) % len(self)
            try:
                return read_sample(self.root / f"{self.names[j]}.npz")
            except DatasetError as e:
                if self.strict:
                    raise
                if j not in self.bad:
                    self.bad.add(j)
                    warnings.warn(f"{e}; using the next readable sample instead", RuntimeWarning, stacklevel=2)
        raise DatasetError(f"no readable sample in {self.root}")
