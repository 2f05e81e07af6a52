"""Mesh files (OBJ, binary PLY) and the map from a VRN volume's indices to image coordinates."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import _backend as B
from .files import atomic_write


def _check_mesh(verts, faces, colors, normals):
    verts, faces = B.as_numpy(verts, "verts"), B.as_numpy(faces, "faces")
    colors = None if colors is None else B.as_numpy(colors, "colors")
    normals = None if normals is None else B.as_numpy(normals, "normals")
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ValueError(f"verts must have shape (V, 3), got {verts.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu":
        raise ValueError(f"faces must be an integer array of shape (F, 3), got {faces.dtype} {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(verts)):
        raise ValueError(f"faces index vertices outside [0, {len(verts)})")
    for name, a in (("colors", colors), ("normals", normals)):
        if a is not None and a.shape != verts.shape:
            raise ValueError(f"{name} must have shape {verts.shape} like verts, got {a.shape}")
    if colors is not None:
        colors = _colors_u8(colors)
    return verts.astype(np.float32, copy=False), faces, colors, normals


def _colors_u8(colors):
    """Colours as uint8: floats are taken in [0, 1], integers in [0, 255]."""
    if colors.dtype.kind == "f":
        return np.clip(np.rint(colors * 255.0), 0, 255).astype(np.uint8)
    return np.clip(colors, 0, 255).astype(np.uint8)


OBJ_DECIMALS = 6  # positions, normals and texture coordinates (1e-6 of a pixel: past float32's own)


def save_obj(path, verts, faces, colors=None, normals=None, uv=None, material=None):
    """Wavefront OBJ; per-vertex colours as the common `v x y z r g b` extension (floats in [0, 1]);
    `uv` (V, 2) texture coordinates and `material` (its .mtl file name, material name) for a
    textured mesh. Every vertex has its own normal and texture coordinate, of the same index."""
    from ._ascii import fixed, join, tokens

    verts, faces, colors, normals = _check_mesh(verts, faces, colors, normals)
    if uv is not None and np.shape(uv) != (len(verts), 2):
        raise ValueError(f"uv must have shape ({len(verts)}, 2) like verts, got {np.shape(uv)}")
    nv = len(verts)

    def columns(a, decimals=OBJ_DECIMALS):
        cols = []
        for i in range(a.shape[1]):
            cols += [" ", fixed(a[:, i], decimals)]
        return cols

    def write(f):
        if material is not None:
            f.write(f"mtllib {material[0]}\nusemtl {material[1]}\n".encode())
        if nv:
            f.write(join("v", *columns(verts), *(columns(colors / 255.0, 4) if colors is not None else [])))
            if uv is not None:
                f.write(join("vt", *columns(np.asarray(uv))))
            if normals is not None:
                f.write(join("vn", *columns(np.asarray(normals))))
        if len(faces):
            # v/vt/vn share each vertex's index
            repeat, sep = {(False, False): (1, ""), (True, False): (2, "/"), (False, True): (2, "//"),
                           (True, True): (3, "/")}[(uv is not None, normals is not None)]
            idx = faces.astype(np.int64) + 1
            f.write(join("f", *[c for i in range(3) for c in (" ", tokens(idx[:, i], repeat, sep))]))

    atomic_write(path, write)


def save_ply(path, verts, faces, colors=None, normals=None):
    """Binary little-endian PLY with optional per-vertex normals (float) and colours (uchar)."""
    verts, faces, colors, normals = _check_mesh(verts, faces, colors, normals)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if normals is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vrec = np.empty(len(verts), dtype=fields)
    for i, axis in enumerate("xyz"):
        vrec[axis] = verts[:, i]
        if normals is not None:
            vrec["n" + axis] = normals[:, i]
    if colors is not None:
        for i, ch in enumerate(("red", "green", "blue")):
            vrec[ch] = colors[:, i]
    frec = np.empty(len(faces), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    frec["n"] = 3
    frec["i"] = faces
    ply_type = {"<f4": "float", "u1": "uchar"}
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(verts)}"]
    header += [f"property {ply_type[t]} {n}" for n, t in fields]
    header += [f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header"]

    def write(f):
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(vrec.tobytes())
        f.write(frec.tobytes())

    atomic_write(path, write)


def save_mesh(path, verts, faces, colors=None, normals=None):
    """OBJ or PLY, chosen by the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".obj":
        return save_obj(path, verts, faces, colors, normals)
    if suffix == ".ply":
        return save_ply(path, verts, faces, colors, normals)
    raise ValueError(f"path must end in .obj or .ply, got {str(path)!r}")


def volume_to_image(verts, z_scale=1.0):
    """Vertices of a VRN volume (D, H, W) from marching_cubes, (d, h, w), -> image (x, y, z).

    x = w and y = h are image pixels; z = d * z_scale is depth. The original VRN code maps a
    200-slice volume onto a 192-pixel image with z_scale = 0.5; a volume whose depth is sampled
    like its rows uses 1.0. Returns float32 numpy (or the input's library for torch / CuPy).
    The map swaps two axes, a reflection: reverse the faces' winding with it (faces[:, ::-1]) to
    keep their normals pointing the same way.
    """
    z_scale = B.check_finite(z_scale, "z_scale")
    kind = B.array_kind(verts, "verts")
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ValueError(f"verts must have shape (V, 3), got {tuple(verts.shape)}")
    v = B.to_numpy(verts, kind).astype(np.float32, copy=False)
    out = np.stack([v[:, 2], v[:, 1], v[:, 0] * np.float32(z_scale)], axis=1)
    return B.from_numpy(kind, verts, out)
