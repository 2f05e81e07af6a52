"""Mesh -> occupancy volume (the tool that makes VRN targets from fitted meshes).

A voxel (d, h, w) is inside when the ray x = w, y = h crosses the surface an odd number of times
below z = d: parity fill along z, per column, in C++ (threaded). The mesh should be closed where it
crosses the volume; an open surface fills from its crossings as parity dictates.
"""
from __future__ import annotations

import numpy as np

from .. import _backend as B


def voxelize(verts, faces, shape=(200, 192, 192)):
    """Occupancy (D, H, W) uint8 of a triangle mesh whose vertices are in the volume's
    (x, y, z) = (w, h, d) coordinates. verts (V, 3) float, faces (F, 3) int; numpy or torch (CPU);
    the result is in the same library."""
    kind = B.array_kind(verts, "verts")
    if kind not in B.CPU_KINDS:
        raise ValueError("voxelize runs on the CPU: pass numpy arrays or CPU tensors")
    v = np.ascontiguousarray(B.to_numpy(verts, kind), dtype=np.float32)
    f = B.to_numpy(faces, B.array_kind(faces, "faces"))
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"verts must have shape (V, 3), got {v.shape}")
    if not np.isfinite(v).all():
        bad = int((~np.isfinite(v)).any(axis=1).sum())
        raise ValueError(f"verts must be finite: {bad} of {len(v)} vertices hold NaN or infinity")
    if f.ndim != 2 or f.shape[1] != 3 or f.dtype.kind not in "iu":
        raise ValueError(f"faces must be an integer array of shape (F, 3), got {f.dtype} {f.shape}")
    shape = B.check_shape3(shape, "shape")
    f = np.ascontiguousarray(f, dtype=np.int64)
    out = np.empty(shape, dtype=np.uint8)
    bad = B.cpu_ext().voxelize(v.__array_interface__["data"][0], len(v), f.__array_interface__["data"][0], len(f),
                               shape, out.__array_interface__["data"][0], B.threads_arg())
    if bad:
        raise ValueError(f"faces index vertices outside [0, {len(v)}): {bad} faces")
    return B.from_numpy(kind, verts, out)
