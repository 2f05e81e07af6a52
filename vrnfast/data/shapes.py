"""Analytic volumes for tests, benchmarks and the `vrnfast example` command.

Each returns a float32 (n0, n1, n2) numpy array. Signed fields (sphere, torus, random_smooth) are
positive inside and meet 0 on the surface; face_volume is an occupancy probability meeting 0.5.
"""
from __future__ import annotations

import numpy as np


def _grid(shape):
    return np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij", sparse=True)


def sphere(shape, radius, center=None):
    """radius - distance to center (center defaults to the middle of the volume)."""
    c = [(n - 1) / 2 for n in shape] if center is None else center
    z, y, x = _grid(shape)
    return (radius - np.sqrt((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2)).astype(np.float32)


def torus(shape, major, minor, center=None):
    """minor - distance to the circle of radius `major` in the (y, x) plane."""
    c = [(n - 1) / 2 for n in shape] if center is None else center
    z, y, x = _grid(shape)
    ring = np.sqrt((y - c[1]) ** 2 + (x - c[2]) ** 2) - major
    return (minor - np.sqrt(ring**2 + (z - c[0]) ** 2)).astype(np.float32)


def random_smooth(shape, sigma=2.0, seed=0):
    """Gaussian-filtered white noise scaled to unit variance: many small blobs and saddles."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(shape)
    spectrum = np.fft.rfftn(noise)
    freqs = np.meshgrid(*(np.fft.fftfreq(n) for n in shape[:-1]), np.fft.rfftfreq(shape[-1]),
                        indexing="ij", sparse=True)
    k2 = sum(f**2 for f in freqs)
    field = np.fft.irfftn(spectrum * np.exp(-2 * (np.pi * sigma) ** 2 * k2), s=shape, axes=range(len(shape)))
    return (field / field.std()).astype(np.float32)


def _smooth_max(a, b, k):
    h = np.clip(0.5 + 0.5 * (a - b) / k, 0, 1)
    return a * h + b * (1 - h) + k * h * (1 - h)


def face_volume(shape=(200, 192, 192), sharpness=1.0):
    """A face-like VRN target: a solid head seen from the front, probability of being inside.

    Axis 0 is depth (d, towards the back of the head), axes 1 and 2 are image rows and columns.
    The signed field is a head ellipsoid with a nose, brows, cheeks and chin added and eye sockets
    and a mouth carved out, squashed through a logistic so the surface lies at 0.5.
    """
    D, H, W = shape
    d, h, w = _grid(shape)
    s = min(H, W) / 192.0

    def ell(cd, ch, cw, rd, rh, rw):  # > 0 inside an ellipsoid, roughly in voxels
        q = np.sqrt(((d - cd) / rd) ** 2 + ((h - ch) / rh) ** 2 + ((w - cw) / rw) ** 2)
        return (1 - q) * min(rd, rh, rw)

    cw, ch = W / 2, H / 2
    face_d = D * 0.25  # the front of the face sits a quarter of the way into the volume
    f = ell(face_d + 70 * s, ch, cw, 72 * s, 88 * s, 66 * s)
    f = _smooth_max(f, ell(face_d + 8 * s, ch + 5 * s, cw, 14 * s, 30 * s, 11 * s), 4 * s)  # nose
    for side in (-1, 1):
        f = _smooth_max(f, ell(face_d + 20 * s, ch - 22 * s, cw + side * 28 * s, 12 * s, 7 * s, 22 * s), 3 * s)
        f = _smooth_max(f, ell(face_d + 22 * s, ch + 20 * s, cw + side * 34 * s, 14 * s, 18 * s, 18 * s), 5 * s)
        f = np.minimum(f, -ell(face_d + 8 * s, ch - 10 * s, cw + side * 28 * s, 12 * s, 9 * s, 16 * s))
    f = _smooth_max(f, ell(face_d + 28 * s, ch + 62 * s, cw, 18 * s, 16 * s, 30 * s), 6 * s)  # chin
    f = np.minimum(f, -ell(face_d + 14 * s, ch + 42 * s, cw, 10 * s, 4 * s, 20 * s))  # mouth
    return (1.0 / (1.0 + np.exp(-sharpness * f))).astype(np.float32)


def example_volume(kind="face", shape=None, seed=0):
    """The volumes `vrnfast example` writes: face (200x192x192), sphere, torus, noise (64^3)."""
    if kind == "face":
        return face_volume(tuple(shape) if shape else (200, 192, 192))
    shape = tuple(shape) if shape else (64, 64, 64)
    r = min(shape) / 2 - 2
    if kind == "sphere":
        return 1.0 / (1.0 + np.exp(-sphere(shape, r)))
    if kind == "torus":
        return 1.0 / (1.0 + np.exp(-torus(shape, r * 0.6, r * 0.3)))
    if kind == "noise":
        return 1.0 / (1.0 + np.exp(-random_smooth(shape, seed=seed)))
    raise ValueError(f"kind must be one of face, sphere, torus, noise; got {kind!r}")
