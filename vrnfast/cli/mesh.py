"""`vrnfast mesh`: marching cubes of a saved volume."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np


def add_parser(sub):
    m = sub.add_parser("mesh", help="marching cubes of a saved volume -> OBJ/PLY")
    m.add_argument("volume", metavar="VOLUME.npy", help="a 3-D .npy volume (D, H, W)")
    m.add_argument("-o", "--out", required=True, metavar="OUT.obj|.ply", help="output .obj or .ply")
    m.add_argument("--level", type=float, default=0.5, metavar="X", help="the iso-level (default 0.5)")
    m.add_argument("--backend", default="auto", choices=["auto", "cpp", "reference"])
    m.add_argument("--image-coords", action="store_true",
                   help="write vertices as image (x, y, z) instead of volume (d, h, w) indices")
    m.add_argument("--z-scale", type=float, default=1.0, metavar="S", help="depth scale with --image-coords")
    m.set_defaults(fn=run)


def run(args):
    if Path(args.out).suffix.lower() not in (".obj", ".ply"):
        sys.exit(f"vrnfast mesh: --out must end in .obj or .ply, got {args.out}")
    from .. import io, marching_cubes

    path = Path(args.volume)
    if not path.exists():
        sys.exit(f"vrnfast mesh: no such file: {path}")
    try:
        vol = np.load(path, mmap_mode="r")
    except ValueError as e:
        sys.exit(f"vrnfast mesh: {path} is not a .npy array ({e})")
    if vol.ndim == 4 and vol.shape[0] == 1:
        vol = vol[0]
    t0 = time.perf_counter()
    try:
        verts, faces = marching_cubes(np.asarray(vol), level=args.level, backend=args.backend)
    except (TypeError, ValueError) as e:
        sys.exit(f"vrnfast mesh: {e}")
    dt = time.perf_counter() - t0
    if args.image_coords:  # a reflection (d and w swap places): reverse the winding with it
        verts, faces = io.volume_to_image(verts, z_scale=args.z_scale), faces[:, ::-1]
    io.save_mesh(args.out, verts, faces)
    print(f"wrote {args.out}: {len(verts)} vertices, {len(faces)} triangles (marching cubes {dt * 1e3:.1f} ms)")
