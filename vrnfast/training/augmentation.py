"""The paper's augmentation, applied identically to the image, the target volume and the landmarks.

In-plane rotation, translation, scale and horizontal flip about the volume's centre (depth scaled
with x and y so faces keep their proportions; flipping swaps left/right landmark indices with the
68-point iBUG mirror map), plus a per-channel colour scale of the image. Parameters are sampled on
the CPU from a torch.Generator, so a seed gives the same augmentation on CPU and CUDA.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from ..runtime import to_device
from ..ops.warp import warp_image, warp_volume


def _ibug68_mirror():
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]  # brows
    pairs += [(31, 35), (32, 34)]  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lips
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lips
    m = list(range(68))
    for a, b in pairs:
        m[a], m[b] = b, a
    return tuple(m)


# IBUG68_MIRROR[i]: the index of landmark i's mirror image (the jaw, brows, eyes, nostrils and lips
# swap sides; nose ridge, nose tip, and the lips' middle points map to themselves).
IBUG68_MIRROR = _ibug68_mirror()


@dataclass
class AugmentParams:
    """Per-sample parameters: angle (B,) degrees, translation (B, 2) pixels (x, y), scale (B,),
    flip (B,) bool, colour (B, 3) per-channel image scale. CPU tensors."""

    angle: torch.Tensor
    translation: torch.Tensor
    scale: torch.Tensor
    flip: torch.Tensor
    colour: torch.Tensor

    @classmethod
    def sample(cls, batch_size, generator=None, rotation=45.0, translation=15.0, scale=(0.85, 1.15), flip_p=0.2,
               colour=(0.6, 1.4)):
        """Uniform angle in [-rotation, rotation], translation in [-translation, translation] per
        axis, scale in [scale[0], scale[1]], flip with probability flip_p, colour in
        [colour[0], colour[1]] per channel."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        for name, v in (("rotation", rotation), ("translation", translation)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        for name, (lo, hi) in (("scale", scale), ("colour", colour)):
            if not (0 < lo <= hi and math.isfinite(hi)):
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {(lo, hi)!r}")
        if not 0.0 <= flip_p <= 1.0:
            raise ValueError(f"flip_p must be in [0, 1], got {flip_p!r}")
        g = generator

        def uniform(shape, lo, hi):
            return torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo

        return cls(angle=uniform(batch_size, -rotation, rotation),
                   translation=uniform((batch_size, 2), -translation, translation),
                   scale=uniform(batch_size, *scale),
                   flip=torch.rand(batch_size, generator=g, dtype=torch.float64) < flip_p,
                   colour=uniform((batch_size, 3), *colour).float())

    @classmethod
    def identity(cls, batch_size):
        z = torch.zeros(batch_size, dtype=torch.float64)
        return cls(z, torch.zeros(batch_size, 2, dtype=torch.float64), z + 1, torch.zeros(batch_size, dtype=torch.bool),
                   torch.ones(batch_size, 3))

    def __len__(self):
        return self.angle.shape[0]

    def forward_matrices(self, H, W, D):
        """(B, 4, 4) float64: input (x, y, z, 1) -> augmented output (x, y, z, 1)."""
        b = len(self)
        cx, cy, cz = (W - 1) / 2, (H - 1) / 2, (D - 1) / 2
        a = torch.deg2rad(self.angle.double())
        s = self.scale.double()
        cos, sin = torch.cos(a), torch.sin(a)
        f = torch.where(self.flip, -1.0, 1.0).double()
        m = torch.zeros(b, 4, 4, dtype=torch.float64)
        # p_out = c + s R F (p_in - c) + t, F mirroring x; z scaled by s about the depth centre
        m[:, 0, 0], m[:, 0, 1] = s * cos * f, -s * sin
        m[:, 1, 0], m[:, 1, 1] = s * sin * f, s * cos
        m[:, 2, 2] = s
        m[:, 3, 3] = 1.0
        c = torch.tensor([cx, cy, cz], dtype=torch.float64)
        t = torch.cat([self.translation.double(), torch.zeros(b, 1, dtype=torch.float64)], 1)
        m[:, :3, 3] = c + t - (m[:, :3, :3] @ c)
        return m

    def matrices(self, H, W, D):
        """(matrix2d (B, 2, 3), matrix3d (B, 3, 4)), float64: each maps an OUTPUT pixel / voxel to
        the input coordinates to sample, as warp_image / warp_volume take them."""
        inv = torch.linalg.inv(self.forward_matrices(H, W, D))
        m3 = inv[:, :3, :]
        m2 = inv[:, :2, [0, 1, 3]]
        return m2, m3


def transform_landmarks(landmarks, params, H, W, D):
    """Landmarks (B, 68, 3) or (B, N, 3) in volume (x, y, z) -> augmented positions; a flipped
    sample's 68 landmarks are re-indexed with IBUG68_MIRROR so that index i keeps its meaning."""
    if landmarks.dim() != 3 or landmarks.shape[-1] != 3 or landmarks.shape[0] != len(params):
        raise ValueError(f"landmarks must have shape ({len(params)}, N, 3), got {tuple(landmarks.shape)}")
    m = to_device(params.forward_matrices(H, W, D), landmarks.device)
    p = landmarks.double()
    out = p @ m[:, :3, :3].transpose(1, 2) + m[:, None, :3, 3]
    if params.flip.any():
        if landmarks.shape[1] != 68:
            raise ValueError("flipping needs the 68 iBUG landmarks to swap left and right; "
                             f"got {landmarks.shape[1]} points")
        flip = to_device(params.flip, landmarks.device)
        out = torch.where(flip[:, None, None], out[:, _mirror_index(landmarks.device)], out)
    return out.to(landmarks.dtype)


@functools.lru_cache(maxsize=None)
def _mirror_index(device):
    """IBUG68_MIRROR as an index tensor on `device`, made once per device."""
    return to_device(torch.tensor(IBUG68_MIRROR), device)


def augment(image, volume, params, landmarks=None, backend="auto"):
    """Apply `params` to image (B, C, H, W), target volume (B, D, H, W) and, optionally, landmarks
    (B, 68, 3) in volume (x, y, z) coordinates. Returns (image, volume, landmarks or None).

    The volume is resampled nearest (it stays uint8 / bool), the image bilinear with the colour
    scale. A point of the face lands on the same pixel of the image, the same voxel column of the
    volume, and at its transformed landmark."""
    if image.dim() != 4 or volume.dim() != 4:
        raise ValueError(f"image must be (B, C, H, W) and volume (B, D, H, W), got {tuple(image.shape)} and "
                         f"{tuple(volume.shape)}")
    if image.shape[0] != volume.shape[0] or image.shape[0] != len(params):
        raise ValueError(f"batch sizes differ: image {image.shape[0]}, volume {volume.shape[0]}, "
                         f"params {len(params)}")
    if image.shape[2:] != volume.shape[2:]:
        raise ValueError(f"image (H, W) {tuple(image.shape[2:])} must equal the volume's {tuple(volume.shape[2:])}")
    if image.shape[1] != params.colour.shape[1]:
        raise ValueError(f"params.colour has {params.colour.shape[1]} channels, the image {image.shape[1]}")
    _, D, H, W = volume.shape
    m2, m3 = params.matrices(H, W, D)
    # the parameters stay on the CPU: the warps check them there and copy them without blocking
    out_image = warp_image(image, m2, params.colour, backend=backend)
    out_volume = warp_volume(volume, m3, "nearest", backend=backend)
    out_landmarks = transform_landmarks(landmarks, params, H, W, D) if landmarks is not None else None
    return out_image, out_volume, out_landmarks


def _one_thread_per_worker():
    """Inside a DataLoader worker the workers are the parallelism: unless the user chose a thread
    count, each worker's C++ kernels use one thread instead of every core."""
    from torch.utils.data import get_worker_info

    from .. import _backend

    if _backend.threads_arg() == 0 and get_worker_info() is not None:
        _backend.set_num_threads(1)


class Augment:
    """A torch.utils.data transform: (image (C, H, W), volume (D, H, W), landmarks (68, 3)) ->
    the same, augmented. Each call samples new parameters from its own generator, seeded from
    `seed` (random when None); inside DataLoader workers every worker of every epoch draws its own
    stream, reproducibly under torch.manual_seed. Runs the C++ kernels on CPU tensors (one thread
    per worker unless set), so it is cheap inside workers."""

    def __init__(self, seed=None, **sample_kwargs):
        self.seed = int(torch.randint(2**62, ())) if seed is None else seed
        self.generator = torch.Generator().manual_seed(self.seed)
        self._worker_seeded = False
        self.sample_kwargs = sample_kwargs
        AugmentParams.sample(1, torch.Generator(), **sample_kwargs)  # validate the ranges now

    def __call__(self, sample):
        _one_thread_per_worker()
        info = torch.utils.data.get_worker_info()
        if info is not None and not self._worker_seeded:
            # each worker of each epoch gets its own stream (info.seed differs per worker and epoch,
            # and follows torch.manual_seed, so runs stay reproducible)
            self.generator.manual_seed((info.seed ^ self.seed) % 2**63)
            self._worker_seeded = True
        image, volume, landmarks = sample
        params = AugmentParams.sample(1, self.generator, **self.sample_kwargs)
        img, vol, lms = augment(image[None], volume[None], params,
                                landmarks[None] if landmarks is not None else None)
        return img[0], vol[0], (lms[0] if lms is not None else None)
