"""Marching cubes: volume -> welded, watertight, consistently wound triangle mesh.

Backends: "cpp" (vrnfast._C, Flying-Edges-style rows, threaded), "cuda" (vrnfast._cuda, same
per-row logic on the GPU), "reference" (scikit-image's Lorensen marching cubes, one call per
volume). A batch is one run of rows for the C++ and CUDA kernels, so it costs one pass.
"""
from __future__ import annotations

import numpy as np

from .. import _backend as B

_SUPPORTED = {"reference", "cpp", "cuda"}
_INT32_MAX = 2**31 - 1


def marching_cubes(volume, level=0.5, spacing=(1.0, 1.0, 1.0), backend="auto", return_normals=False):
    """Iso-surface of a 3-D volume, or of each volume of a 4-D batch, at `level`.

    volume: a 3-D (D, H, W) volume or a 4-D (B, D, H, W) batch; numpy array, torch tensor (CPU or
    CUDA) or CuPy array; any real dtype, any strides. A voxel is inside when its value is > level
    (NaN is never inside).

    Returns (verts, faces) or, with return_normals=True, (verts, faces, normals), in the input's
    library and on its device: verts (V, 3) float32 in the array's index coordinates (axis order
    kept) times spacing, one vertex per crossed edge; faces (F, 3) int32 (int64 past 2^31 - 1
    vertices), wound so that normals point toward lower values; normals (V, 3) float32 unit
    vectors along minus the volume's gradient. An empty surface gives (0, 3) arrays.

    A batch gives a list of B such results, each equal to its volume's own call, from one pass over
    the whole batch (one count and one emit launch on CUDA). Its meshes are consecutive slices
    (views) of one array per output; copy one to free the rest.
    """
    return mesh_arrays(volume, level, spacing, backend, ("normals",) if return_normals else ())


def mesh_arrays(volume, level, spacing, backend, extras):
    """marching_cubes() with a choice of per-vertex outputs after (verts, faces): `extras` names
    them in order, from "normals" and "values" (each vertex's cells' largest sample, mc_cell.h's
    cells_max; C++ and CUDA backends only). For vrnfast's own wrappers (compat.skimage)."""
    kind = B.array_kind(volume, "volume")
    if volume.ndim not in (3, 4):
        raise ValueError(f"volume must be 3-D (or a 4-D batch of volumes), got shape {tuple(volume.shape)}")
    batched = volume.ndim == 4
    if batched and volume.shape[0] == 0:
        return []
    if min(volume.shape[-3:]) < 2:
        raise ValueError(f"volume must be at least 2 along every axis, got shape {tuple(volume.shape)}")
    dtype = B.real_dtype_code(volume, "volume")
    level = B.check_finite(level, "level")
    spacing = B.check_spacing(spacing)
    backend = B.resolve_backend("marching_cubes", kind, backend, _SUPPORTED)
    batch = volume if batched else volume[None]
    if backend == "reference":
        assert "values" not in extras, "values need the C++ or CUDA kernel"
        meshes = [tuple(B.from_numpy(kind, volume, a)
                        for a in _reference(B.to_numpy(v, kind), level, spacing, "normals" in extras))
                  for v in batch]
    else:
        run = _run_cpu if backend == "cpp" else _run_cuda
        meshes = run(B.buffer(batch, kind), kind, dtype, level, spacing, extras)
    return meshes if batched else meshes[0]


class _Outputs:
    """The batch's output arrays: verts, faces, and the per-vertex extras asked for."""

    def __init__(self, kind, like, volume_verts, volume_tris, extras):
        index = "int32" if max(volume_verts) <= _INT32_MAX else "int64"
        self.n_verts, self.n_tris = volume_verts, volume_tris
        nv, nt = sum(volume_verts), sum(volume_tris)
        self.verts = B.empty(kind, like, (nv, 3), "float32")
        self.faces = B.empty(kind, like, (nt, 3), index)
        self.extras = {name: B.empty(kind, like, (nv, 3) if name == "normals" else (nv,), "float32")
                       for name in extras}

    def ptrs(self):
        """verts, faces, faces_int64, normals, values: what the kernels' emit takes (0: not asked)."""
        get = lambda name: B.data_ptr(self.extras[name]) if name in self.extras else 0  # noqa: E731
        return (B.data_ptr(self.verts), B.data_ptr(self.faces), B.dtype_name(self.faces) == "int64",
                get("normals"), get("values"))

    def split(self):
        """One mesh per volume: consecutive slices (views) of the batch's arrays."""
        arrays = [self.verts, self.faces, *self.extras.values()]
        if len(self.n_verts) == 1:
            return [tuple(arrays)]
        per_vertex = [True, False] + [True] * len(self.extras)
        meshes, v0, t0 = [], 0, 0
        for nv, nt in zip(self.n_verts, self.n_tris):
            meshes.append(tuple(a[v0:v0 + nv] if pv else a[t0:t0 + nt] for a, pv in zip(arrays, per_vertex)))
            v0, t0 = v0 + nv, t0 + nt
        return meshes


def _run_cpu(buf, kind, dtype, level, spacing, extras):
    ext = B.cpu_ext()
    threads = B.threads_arg()
    plan = ext.mc_count(buf.ptr, dtype, buf.shape[1:], buf.strides[1:], buf.shape[0], buf.strides[0], level,
                        threads)
    out = _Outputs(kind, buf.array, plan.volume_verts, plan.volume_tris, extras)
    plan.emit(spacing, *out.ptrs(), threads)
    return out.split()


def _run_cuda(buf, kind, dtype, level, spacing, extras):
    ext = B.cuda_ext()
    stream = B.cuda_stream(kind, buf.array)
    grid = (buf.shape[1:], buf.strides[1:], buf.shape[0], buf.strides[0])
    ws_bytes = ext.mc_workspace_bytes(buf.shape[1:], buf.shape[0], buf.device)
    workspace = B.empty(kind, buf.array, (ws_bytes,), "uint8")
    totals = ext.mc_count(buf.ptr, dtype, *grid, level, B.data_ptr(workspace), ws_bytes, stream, buf.device)
    out = _Outputs(kind, buf.array, [t[0] for t in totals], [t[1] for t in totals], extras)
    ext.mc_emit(buf.ptr, dtype, *grid, level, spacing, B.data_ptr(workspace), *out.ptrs(), stream, buf.device)
    return out.split()


def _reference(volume: np.ndarray, level, spacing, return_normals):
    """scikit-image's Lorensen marching cubes, with vrnfast's output conventions."""
    from skimage.measure import marching_cubes as sk_marching_cubes

    vol = np.asarray(volume)
    if vol.dtype == bool:
        vol = vol.astype(np.uint8)
    finite = vol[np.isfinite(vol)] if vol.dtype.kind == "f" else vol
    if finite.size == 0 or not (finite.min() <= level < finite.max()):
        # skimage refuses a level outside the data range; no voxel crosses it anyway
        empty = (np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32))
        return empty + (np.zeros((0, 3), np.float32),) if return_normals else empty
    verts, faces, normals, _ = sk_marching_cubes(vol, level, spacing=spacing, method="lorensen")
    out = (verts.astype(np.float32), faces.astype(np.int32))
    return out + (normals.astype(np.float32),) if return_normals else out
