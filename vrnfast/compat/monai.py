"""Dict transforms for 3-D pipelines, on vrnfast's warp kernels, in MONAI's conventions, without
importing MONAI: they run inside `monai.transforms.Compose`, a DataLoader, or alone.

    from vrnfast.compat.monai import RandAffined
    aug = RandAffined(keys=("image", "label"), mode=("bilinear", "nearest"), prob=0.5,
                      rotate_range=(0.3, 0.3, 0.3), translate_range=(10, 10, 10),
                      scale_range=(0.1, 0.1, 0.1))
    sample = aug({"image": image, "label": label})   # (C, D, H, W) numpy arrays or tensors

Conventions (MONAI's, for an affine A, 4 x 4, given or sampled): A maps an OUTPUT voxel to the
INPUT voxel it samples, in coordinates along the array's spatial axes (d, h, w) with the origin at
the volume's centre ((n - 1) / 2 along an axis of n voxels):

    input_index = A[:3, :3] @ (output_index - centre_out) + A[:3, 3] + centre_in

vrnfast.warp_volume's matrix maps an output (x, y, z) = (w, h, d) index to an input index; the
two differ by the axis order and the centring (`affine_to_matrix`). Samples outside the volume
are zero (MONAI's padding_mode "zeros"); "bilinear" (MONAI's name, trilinear in 3-D) returns
float32, "nearest" keeps the dtype.
"""
from __future__ import annotations

import math

import numpy as np
import torch

MODES = {"bilinear": "trilinear", "trilinear": "trilinear", "nearest": "nearest"}
_FLIP = np.eye(3)[::-1]  # (d, h, w) <-> (x, y, z) = (w, h, d)


def affine_to_matrix(affine, in_shape, out_shape=None) -> np.ndarray:
    """vrnfast's (3, 4) warp matrix of a MONAI-convention 4 x 4 affine (see the module's docstring)."""
    a = np.asarray(affine, np.float64)
    if a.shape != (4, 4) or not np.isfinite(a).all():
        raise ValueError(f"affine must be a finite 4 x 4 matrix, got shape {a.shape}")
    c_in = (np.asarray(in_shape, np.float64) - 1) / 2
    c_out = (np.asarray(in_shape if out_shape is None else out_shape, np.float64) - 1) / 2
    lin = a[:3, :3]
    shift = a[:3, 3] + c_in - lin @ c_out
    return np.concatenate([_FLIP @ lin @ _FLIP, (_FLIP @ shift)[:, None]], axis=1)


def rotation(angles) -> np.ndarray:
    """MONAI's 3-D rotation (its create_rotate): about axis 0, then 1, then 2 (radians),
    R = Rz(a2) @ Ry(a1) @ Rx(a0), acting on (d, h, w) coordinates."""
    a0, a1, a2 = (float(a) for a in angles)
    rx = np.array([[1, 0, 0], [0, math.cos(a0), -math.sin(a0)], [0, math.sin(a0), math.cos(a0)]])
    ry = np.array([[math.cos(a1), 0, math.sin(a1)], [0, 1, 0], [-math.sin(a1), 0, math.cos(a1)]])
    rz = np.array([[math.cos(a2), -math.sin(a2), 0], [math.sin(a2), math.cos(a2), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _ranges(value, name):
    if value is None:
        return np.zeros(3)
    v = np.asarray(value, np.float64)
    v = np.full(3, float(v)) if v.ndim == 0 else v
    if v.shape != (3,) or not np.isfinite(v).all() or (v < 0).any():
        raise ValueError(f"{name} must be one non-negative number or three, got {value!r}")
    return v


class RandAffined:
    """A random affine (rotation, scaling, translation) sampled once per call and applied to every
    key with its own mode; with probability 1 - prob the sample passes unchanged.

    keys: the dict's keys to warp; mode: one for all or one per key ("bilinear" for images,
    "nearest" for labels); rotate_range (radians), translate_range (voxels), scale_range (added to
    1): each one number or three (per axis d, h, w), sampled uniformly in [-r, r]. Seeded with
    `seed`, or `set_random_state` (MONAI's Randomizable API: MONAI's DataLoader reseeds each
    worker's copy through it; Compose.set_random_state reaches only subclasses of MONAI's own
    Randomizable, so give `seed` here). The last affine applied is `last_affine` (MONAI's
    convention), None when skipped.
    """

    def __init__(self, keys, mode="bilinear", prob=0.1, rotate_range=None, translate_range=None, scale_range=None,
                 padding_mode="zeros", allow_missing_keys=False, seed=None):
        self.keys = (keys,) if isinstance(keys, str) else tuple(keys)
        modes = (mode,) * len(self.keys) if isinstance(mode, str) else tuple(mode)
        if len(modes) != len(self.keys) or any(m not in MODES for m in modes):
            raise ValueError(f"mode must be one of {tuple(MODES)} or one per key ({len(self.keys)}), got {mode!r}")
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode must be 'zeros' (the warp kernels' padding), got {padding_mode!r}")
        if not 0 <= float(prob) <= 1:
            raise ValueError(f"prob must be in [0, 1], got {prob!r}")
        self.modes, self.prob = modes, float(prob)
        self.rotate_range = _ranges(rotate_range, "rotate_range")
        self.translate_range = _ranges(translate_range, "translate_range")
        self.scale_range = _ranges(scale_range, "scale_range")
        self.allow_missing_keys = allow_missing_keys
        self.last_affine = None
        self.set_random_state(seed)

    def set_random_state(self, seed=None, state=None):
        self.R = state if state is not None else np.random.RandomState(seed)
        return self

    def randomize(self):
        """Samples whether to apply and the affine (MONAI's order: translate @ rotate @ scale)."""
        self._do = self.R.rand() < self.prob
        angles = self.R.uniform(-self.rotate_range, self.rotate_range)
        shift = self.R.uniform(-self.translate_range, self.translate_range)
        scale = 1.0 + self.R.uniform(-self.scale_range, self.scale_range)
        affine = np.eye(4)
        affine[:3, :3] = rotation(angles) @ np.diag(scale)
        affine[:3, 3] = shift
        self._affine = affine

    def __call__(self, data):
        d = dict(data)
        self.randomize()
        if not self._do:
            self.last_affine = None
            return d
        self.last_affine = self._affine
        for key, mode in zip(self.keys, self.modes):
            if key not in d:
                if self.allow_missing_keys:
                    continue
                raise KeyError(f"RandAffined: key {key!r} is not in the sample (keys: {sorted(map(str, d))})")
            d[key] = apply_affine(d[key], self._affine, mode, name=key)
        return d


def apply_affine(array, affine, mode="bilinear", name="array"):
    """One (C, D, H, W) array (numpy, torch or CuPy) through a MONAI-convention affine, every
    channel alike in one warp, returned in its own library."""
    from ..ops.warp import warp_volume

    x = array
    if isinstance(x, torch.Tensor) and type(x) is not torch.Tensor:  # a MetaTensor and the like
        x = x.as_subclass(torch.Tensor)
    if getattr(x, "ndim", None) != 4:
        raise ValueError(f"{name} must be (C, D, H, W), got shape {tuple(np.shape(x))}")
    matrix = torch.as_tensor(affine_to_matrix(affine, x.shape[1:]), dtype=torch.float64)
    return warp_volume(x, matrix, mode=MODES[mode])  # one matrix for every channel
