"""Face meshes with the photo as their texture: OBJ + MTL + PNG (vrnfast.io's fast OBJ writer) and
binary glTF 2.0 (GLB) with the texture embedded (trimesh), which vrnfast.viz.pages shows in a
browser.

A reconstructed mesh's vertices live in the photo's pixels (x right, y down), so each vertex's
texture coordinate is its own image position: the texture is the photo's region under the mesh,
and sampling it bilinearly at a vertex gives the colour vrnfast.reconstruction.reconstructor gives that vertex.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# what a reconstructed face is written as (reconstruction.reconstructor.save_face_mesh; html by
# vrnfast.viz.pages), here where the command line's parser reads it without importing torch
FORMATS = ("obj", "glb", "ply", "html")
# zlib level of the OBJ's texture. Measured on a 600 x 600 face of a photo (2-core AMD EPYC):
# level 1 took 39 ms for 491 kB, Pillow's default 6 took 166 ms for 436 kB
PNG_COMPRESSION = 1
# glTF's axes are y up and the model facing +z: the image's (x, y down, z away) turned 180
# degrees about x, a rotation, so the triangles keep their winding
IMAGE_TO_GLTF = np.diag([1.0, -1.0, -1.0]).astype(np.float32)


def texture_region(image, verts):
    """(the texture: the (h, w, 3) part of `image` under the vertices' (x, y), edge pixels
    repeated where the mesh reaches past the photo; its top-left pixel (x0, y0) in the image)."""
    h, w = image.shape[:2]
    if len(verts) == 0:  # an empty mesh: a one-pixel texture keeps the files valid
        return np.ascontiguousarray(image[:1, :1]), (0, 0)
    lo = np.floor(verts[:, :2].min(0)).astype(np.int64) - 1
    hi = np.ceil(verts[:, :2].max(0)).astype(np.int64) + 2
    cols = np.clip(np.arange(lo[0], hi[0]), 0, w - 1)
    rows = np.clip(np.arange(lo[1], hi[1]), 0, h - 1)
    return np.ascontiguousarray(image[rows[:, None], cols[None, :]]), (int(lo[0]), int(lo[1]))


def texture_coordinates(verts, origin, texture_shape):
    """(V, 2) OBJ-convention UVs (v up) of the vertices' image (x, y) in a texture whose top-left
    pixel is image pixel `origin`; texel i spans [i, i + 1] / size, so its centre is pixel i."""
    th, tw = texture_shape[:2]
    u = (verts[:, 0] - origin[0] + 0.5) / tw
    v = 1.0 - (verts[:, 1] - origin[1] + 0.5) / th
    return np.column_stack([u, v]).astype(np.float64)


def save_textured_obj(path, mesh, image) -> list[Path]:
    """PATH.obj (vrnfast.io.save_obj), PATH.mtl and PATH.png (the texture), in image pixels; the
    files written."""
    from . import atomic_write, image_bytes, save_obj

    path = Path(path)
    texture, origin = texture_region(image, mesh.verts)
    obj, mtl, png = path, path.with_suffix(".mtl"), path.with_suffix(".png")
    data = image_bytes(texture, "PNG", compress_level=PNG_COMPRESSION)
    atomic_write(png, lambda f: f.write(data))
    # the texture as it is: white ambient and diffuse, no highlight
    atomic_write(mtl, lambda f: f.write(f"newmtl {path.stem}\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\n"
                                         f"map_Kd {png.name}\n".encode()))
    save_obj(obj, mesh.verts, mesh.faces, normals=mesh.normals, material=(mtl.name, path.stem),
             uv=texture_coordinates(mesh.verts, origin, texture.shape))
    return [obj, mtl, png]


def save_glb(path, mesh, image=None) -> list[Path]:
    """glb_bytes() written to `path`; the files written."""
    from . import atomic_write

    path = Path(path)
    data = glb_bytes(mesh, image, name=path.stem)
    atomic_write(path, lambda f: f.write(data))
    return [path]


def glb_bytes(mesh, image=None, name="face") -> bytes:
    """Binary glTF 2.0 in glTF's axes (IMAGE_TO_GLTF of the image pixels): the photo's texture
    embedded (a matte material seen from both sides), or without `image` the mesh's vertex
    colours."""
    import trimesh
    from PIL import Image

    if image is not None:
        texture, origin = texture_region(image, mesh.verts)
        material = trimesh.visual.material.PBRMaterial(name=name, baseColorTexture=Image.fromarray(texture),
                                                       metallicFactor=0.0, roughnessFactor=1.0, doubleSided=True)
        visual = trimesh.visual.TextureVisuals(uv=texture_coordinates(mesh.verts, origin, texture.shape),
                                               material=material)
    else:
        visual = trimesh.visual.ColorVisuals(vertex_colors=mesh.colors)
    # trimesh refuses an empty (0, 3) normals array
    normals = np.asarray(mesh.normals, np.float64) @ IMAGE_TO_GLTF.T if len(mesh.verts) else None
    tm = trimesh.Trimesh(np.asarray(mesh.verts, np.float64) @ IMAGE_TO_GLTF.T, mesh.faces, vertex_normals=normals,
                         visual=visual, process=False)
    return trimesh.exchange.gltf.export_glb(trimesh.Scene(tm), include_normals=True)
