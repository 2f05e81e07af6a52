"""scikit-image's `skimage.measure.marching_cubes`, on vrnfast's kernels: switch with one line,

    from vrnfast.compat.skimage import marching_cubes   # was: from skimage.measure import marching_cubes

Same signature, return value `(verts, faces, normals, values)`, conventions and errors:
- `level=None` is the middle of the data range; a level outside the range is a ValueError;
- vertices in index coordinates (axis order kept) times `spacing`: float32, float64 with a
  spacing other than (1, 1, 1) (scikit-image's types); faces int32;
- `gradient_direction="descent"` (the object is greater than the exterior) gives scikit-image's
  winding (right-hand normals toward higher values), "ascent" the opposite;
- normals: unit vectors along minus the data's gradient, whatever the winding (as scikit-image's);
- `step_size` meshes every step-th sample along each axis;
- `allow_degenerate=False` merges coincident vertices and drops the zero-area triangles;
- `mask`: a cell is meshed only when all 8 of its corners are True (scikit-image's documented
  intent; 0.26 itself checks one corner, its issue #8202); no surface at all is a RuntimeError.

Where it differs, and why:
- `method`: both "lewiner" and "lorensen" run vrnfast's table. The vertices are the same (one per
  crossed edge, at the same linear interpolation); only in cells whose faces are ambiguous (two
  diagonal corners inside) can the triangles differ: vrnfast separates the inside corners on every
  such face, the same rule in both cells that share it, so closed surfaces are watertight, where
  Lewiner's tables decide by the bilinear saddle. The surface areas agree (tested).
- `values`: the largest data value among the cells that share each vertex's edge (a colour-map
  measure of the data near the vertex, as scikit-image documents it; its numbers differ).
No option falls back to scikit-image: every one is served by vrnfast's kernel plus the numpy
above.
"""
from __future__ import annotations

import numpy as np

METHODS = ("lewiner", "lorensen")
GRADIENT_DIRECTIONS = ("descent", "ascent")


def marching_cubes(volume, level=None, *, spacing=(1.0, 1.0, 1.0), gradient_direction="descent", step_size=1,
                   allow_degenerate=True, method="lewiner", mask=None):
    from ..ops.marching_cubes import mesh_arrays

    if method not in METHODS:
        raise ValueError("method should be either 'lewiner' or 'lorensen'")
    if not isinstance(volume, np.ndarray) or volume.ndim != 3:
        raise ValueError("Input volume should be a 3D numpy array.")
    if min(volume.shape) < 2:
        raise ValueError("Input array must be at least 2x2x2.")
    lo, hi = float(np.nanmin(volume)), float(np.nanmax(volume))
    if level is None:
        level = 0.5 * (lo + hi)
    else:
        level = float(level)
        if level < lo or level > hi:
            raise ValueError("Surface level must be within volume data range.")
    if len(spacing) != 3:
        raise ValueError("`spacing` must consist of three floats.")
    step_size = int(step_size)
    if step_size < 1:
        raise ValueError("step_size must be at least one.")
    if mask is not None and np.shape(mask) != volume.shape:
        raise ValueError("volume and mask must have the same shape.")
    if gradient_direction not in GRADIENT_DIRECTIONS:
        raise ValueError(f"Incorrect input {gradient_direction} in `gradient_direction`, see docstring.")

    step = (slice(None, None, step_size),) * 3
    data = volume[step]
    verts, faces, normals, values = mesh_arrays(data, level, (1.0, 1.0, 1.0), "cpp", ("normals", "values"))
    faces = faces.astype(np.int32, copy=False)
    if mask is not None:
        faces = faces[_unmasked_cells(np.asarray(mask, bool)[step])[tuple(_cells(verts, faces, data.shape).T)]]
        verts, faces, normals, values = _compact(verts, faces, normals, values)
    if not len(faces):
        raise RuntimeError("No surface found at the given iso value.")
    if gradient_direction == "descent":  # vrnfast winds toward lower values; scikit-image's descent, higher
        faces = _reversed_winding(faces)
    if step_size > 1:
        verts = verts * np.float32(step_size)
    if not np.array_equal(spacing, (1, 1, 1)):
        verts = verts * np.r_[spacing]  # float64, as scikit-image's
    if not allow_degenerate:
        verts, faces, normals, values = _remove_degenerate(verts, faces, normals, values)
    return verts, faces, normals, values


def _cells(verts, faces, shape):
    """(F, 3) the lower corner of the cell each triangle lies in: every vertex is on an edge of the
    cell, so per axis the cell starts at the smallest floor among its three vertices."""
    corner = np.floor(verts[faces]).min(axis=1).astype(np.int64)
    return np.clip(corner, 0, np.array(shape) - 2)


def _unmasked_cells(mask):
    """(D-1, H-1, W-1) cells whose 8 corners are all unmasked."""
    ok = np.ones(tuple(n - 1 for n in mask.shape), bool)
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                ok &= mask[dz:dz + ok.shape[0], dy:dy + ok.shape[1], dx:dx + ok.shape[2]]
    return ok


def _compact(verts, faces, *per_vertex):
    """Drops the vertices no face uses (and their rows of each per-vertex array)."""
    used = np.zeros(len(verts), bool)
    used[faces.ravel()] = True
    index = np.cumsum(used) - 1
    return (verts[used], index[faces].astype(np.int32), *(a[used] for a in per_vertex))


def _reversed_winding(faces):
    """Each triangle's corners in reverse order, C-contiguous as scikit-image's (column copies: faster
    than copying the reversed view)."""
    out = np.empty_like(faces)
    for k in range(3):
        out[:, k] = faces[:, 2 - k]
    return out


def _remove_degenerate(verts, faces, normals, values):
    """Coincident vertices merged (the first kept), triangles left with a repeated vertex dropped,
    unused vertices removed."""
    _, first, inverse = np.unique(verts, axis=0, return_index=True, return_inverse=True)
    faces = first[inverse.ravel()][faces]
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    return _compact(verts, faces, normals, values)
