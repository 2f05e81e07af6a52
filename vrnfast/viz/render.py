"""A small software renderer (numpy only) for previews of reconstructed meshes.

Conventions:
- verts are in IMAGE coordinates: x to the right (columns), y down (rows), z depth growing away
  from the camera -- what `vrnfast.io.volume_to_image` returns. Pixel centres sit at integer x, y.
- Views (orthographic): "front" looks along +z (screen = (x, y)); "side" looks at the face's right
  side, along +x, so the face looks to the right of the picture (screen = (-z, y)); "left" looks
  along -x (screen = (z, y)). Screen coordinates are (u right, v down, depth away), see `project`.
- Faces may be wound either way: shading turns every normal toward the camera (two-sided
  lighting), so open meshes show no holes and a mesh whose winding was mirrored (e.g. by the axis
  swap in volume_to_image, which turns marching cubes' outward normals inward) shades the same.
"""
from __future__ import annotations

import numpy as np

from ..io import as_hwc

# screen (u, v, depth) = verts @ VIEWS[view].T; each is a rotation, so normals map the same way
VIEWS = {
    "front": np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float64),
    "side": np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]], np.float64),
    "left": np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], np.float64),
}
SKIN = (0.82, 0.76, 0.70)  # default surface colour, a light warm grey
DEFAULT_LIGHT = (-0.4, -0.5, -1.0)  # toward the light, screen frame: upper left, in front
CHUNK = 1 << 18  # (triangle, pixel) candidates tested at once: ~25 MB of temporaries, cache friendly


def _array(x, name):
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{name} must be an array: {e}") from None


def _check_mesh(verts, faces, name="verts"):
    v = _array(verts, name)
    real = np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)
    if v.ndim != 2 or v.shape[1] != 3 or not real:
        raise ValueError(f"{name} must be a real (V, 3) array, got {v.dtype} {v.shape}")
    v = v.astype(np.float64)
    if not np.isfinite(v).all():
        raise ValueError(f"{name} must be finite")
    f = _array(faces, "faces")
    if f.ndim != 2 or f.shape[1] != 3 or (f.size and not np.issubdtype(f.dtype, np.integer)):
        raise ValueError(f"faces must be an integer (F, 3) array, got {f.dtype} {f.shape}")
    f = f.astype(np.int64)
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"faces must index {name}: indices span [{f.min()}, {f.max()}] but there are "
                         f"{len(v)} vertices")
    return v, f


def _check_size(size):
    hw = (size, size) if np.ndim(size) == 0 else tuple(size)
    if len(hw) != 2 or not all(isinstance(n, (int, np.integer)) and n > 0 for n in hw):
        raise ValueError(f"size must be a positive int or (H, W), got {size!r}")
    return int(hw[0]), int(hw[1])


def _check_rgb(x, name, n=None):
    """Colours as float in [0, 1], shape (3,) or (n, 3): uint8 is divided by 255."""
    c = _array(x, name)
    if c.shape not in ((3,), (n, 3)):
        want = "(3,)" if n is None else f"(3,) or ({n}, 3)"
        raise ValueError(f"{name} must have shape {want}, got {c.shape}")
    if c.dtype == np.uint8:
        return c.astype(np.float64) / 255.0
    if not np.issubdtype(c.dtype, np.floating) or not np.all((c >= 0) & (c <= 1)):
        raise ValueError(f"{name} must be uint8 or float in [0, 1]")
    return c.astype(np.float64)


def _check_view(view):
    if view not in VIEWS:
        raise ValueError(f"view must be one of {sorted(VIEWS)}, got {view!r}")
    return VIEWS[view]


def vertex_normals(verts, faces):
    """Unit per-vertex normals (V, 3) float32: the sum of the adjacent faces' right-hand normals
    (p1 - p0) x (p2 - p0), which weights each face by its area. They point the way the winding says:
    out of the solid for marching cubes' (d, h, w) output. Vertices in no face get (0, 0, 0)."""
    v, f = _check_mesh(verts, faces)
    p = v[f]
    fn = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    n = np.stack([np.bincount(f.ravel(), np.repeat(fn[:, k], 3), minlength=len(v)) for k in range(3)], axis=1)
    n = n.astype(np.float64)  # bincount of nothing is int
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, length, out=np.zeros_like(n), where=length > 0).astype(np.float32)


def _used(verts, faces):
    """Mask of the vertices some face uses: frames fit what is drawn, not stray vertices."""
    mask = np.zeros(len(verts), bool)
    mask[faces.ravel()] = True
    return mask


def project(verts, view="front"):
    """Screen coordinates (V, 3) of image-coordinate verts: (u right, v down, depth away)."""
    return _array(verts, "verts").astype(np.float64) @ _check_view(view).T


def fit_frame(uv, size, margin=0.05):
    """(left, top, right, bottom) screen rectangle around the points uv (N, 2), with a margin of that
    fraction on each side, widened to the output's aspect ratio so nothing is stretched."""
    h, w = _check_size(size)
    if len(uv) == 0:
        return (0.0, 0.0, float(w), float(h))
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    centre, extent = (lo + hi) / 2, np.maximum(hi - lo, 1e-6)
    scale = max(extent[0] / w, extent[1] / h) / (1 - 2 * margin)  # screen units per pixel
    half = np.array([w, h]) * scale / 2
    return (centre[0] - half[0], centre[1] - half[1], centre[0] + half[0], centre[1] + half[1])


def rasterize(uvz, faces, size, frame):
    """Z-buffered coverage of triangles in screen space.

    uvz: (V, 3) screen coordinates (see project); frame: the (left, top, right, bottom) screen
    rectangle covered by the (H, W) output, pixel centres sampled at left + (col + 0.5) * pixel.
    A pixel belongs to the nearest (smallest depth) triangle containing its centre.
    Returns (tri (H, W) int64 face index, -1 where empty; bary (H, W, 3) the pixel centre's
    barycentric weights of that face's corners, 0 where empty; depth (H, W), inf where empty).
    """
    uvz, faces = _check_mesh(uvz, faces, "uvz")
    h, w = _check_size(size)
    try:
        left, top, right, bottom = (float(a) for a in frame)
    except (TypeError, ValueError):
        raise ValueError(f"frame must be 4 numbers (left, top, right, bottom), got {frame!r}") from None
    if not (right > left and bottom > top):
        raise ValueError(f"frame must be (left, top, right, bottom) with right > left and bottom > top, "
                         f"got {frame}")
    # to pixel units, where pixel (r, c) has its centre at (c + 0.5, r + 0.5)
    px = (uvz[:, 0] - left) * (w / (right - left))
    py = (uvz[:, 1] - top) * (h / (bottom - top))
    a, b, c = (np.stack([px, py, uvz[:, 2]], axis=1)[faces[:, k]] for k in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    # candidate pixels: those whose centres lie in each triangle's bounding box
    x0 = np.maximum(np.ceil(np.minimum(np.minimum(a[:, 0], b[:, 0]), c[:, 0]) - 0.5), 0)
    x1 = np.minimum(np.floor(np.maximum(np.maximum(a[:, 0], b[:, 0]), c[:, 0]) - 0.5), w - 1)
    y0 = np.maximum(np.ceil(np.minimum(np.minimum(a[:, 1], b[:, 1]), c[:, 1]) - 0.5), 0)
    y1 = np.minimum(np.floor(np.maximum(np.maximum(a[:, 1], b[:, 1]), c[:, 1]) - 0.5), h - 1)
    bw, bh = (x1 - x0 + 1).astype(np.int64), (y1 - y0 + 1).astype(np.int64)
    live = np.flatnonzero((bw > 0) & (bh > 0) & (np.abs(area) > 1e-12))
    counts = bw[live] * bh[live]

    depth = np.full(h * w, np.inf)
    tri = np.full(h * w, -1, np.int64)
    bary = np.zeros((h * w, 2))
    ends = np.cumsum(counts)
    start = 0
    while start < len(live):  # chunks of whole triangles holding about CHUNK candidates
        stop = max(start + 1, int(np.searchsorted(ends, (ends[start - 1] if start else 0) + CHUNK, "right")))
        t = live[start:stop]
        n = counts[start:stop]
        k = np.repeat(np.arange(len(t)), n)
        off = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        ti = t[k]
        col = x0[ti] + off % bw[ti]
        row = y0[ti] + off // bw[ti]
        pix = (row * w + col).astype(np.int64)
        _zbuffer_chunk(ti, col + 0.5, row + 0.5, a, b, c, area, pix, depth, tri, bary)
        start = stop
    bary3 = np.concatenate([bary, 1 - bary.sum(axis=1, keepdims=True)], axis=1)
    bary3[tri < 0] = 0
    return tri.reshape(h, w), bary3.reshape(h, w, 3), depth.reshape(h, w)


def _zbuffer_chunk(ti, cx, cy, a, b, c, area, pix, depth, tri, bary):
    """Inside test and depth resolve for (triangle ti, pixel centre (cx, cy)) pairs, into the buffers."""
    # barycentric weights of a and b: signed sub-areas over the whole (either winding works)
    wa = ((b[ti, 0] - cx) * (c[ti, 1] - cy) - (b[ti, 1] - cy) * (c[ti, 0] - cx)) / area[ti]
    wb = ((c[ti, 0] - cx) * (a[ti, 1] - cy) - (c[ti, 1] - cy) * (a[ti, 0] - cx)) / area[ti]
    wc = 1 - wa - wb
    eps = -1e-9  # pixel centres exactly on a shared edge belong to both triangles: no cracks
    ok = (wa >= eps) & (wb >= eps) & (wc >= eps)
    ti, pix, wa, wb, wc = ti[ok], pix[ok], wa[ok], wb[ok], wc[ok]
    z = wa * a[ti, 2] + wb * b[ti, 2] + wc * c[ti, 2]  # orthographic: depth is linear on screen
    # nearest candidate per pixel: sort by (pixel, depth), keep each pixel's first
    order = np.lexsort((z, pix))
    pix, z = pix[order], z[order]
    first = np.r_[True, pix[1:] != pix[:-1]]
    pix, z, order = pix[first], z[first], order[first]
    nearer = z < depth[pix]
    pix, order = pix[nearer], order[nearer]
    depth[pix] = z[nearer]
    tri[pix] = ti[order]
    bary[pix, 0], bary[pix, 1] = wa[order], wb[order]


def render_mesh(verts, faces, colors=None, view="front", size=256, light=DEFAULT_LIGHT,
                background=(255, 255, 255), frame=None, ambient=0.3, normals=None, smooth=True):
    """Shaded orthographic render of a triangle mesh, (H, W, 3) uint8.

    verts: (V, 3) image coordinates (module docstring); faces: (F, 3) vertex indices; colors: per-vertex
    (V, 3) or one (3,) colour, uint8 or float in [0, 1] (default a skin grey); view: "front", "side"
    or "left"; size: int or (H, W); light: direction toward the light in the screen frame (u right,
    v down, depth away), default from the upper left and in front; background: RGB 0..255;
    frame: the (left, top, right, bottom) screen rectangle to show (default: the mesh's bounding box
    plus 5 %, aspect kept); normals: (V, 3) per-vertex normals (default: vertex_normals).
    Shading: colour * (ambient + (1 - ambient) * max(0, n . light)), with n the interpolated vertex
    normal (smooth) or the face normal (smooth=False: flat, for boxes and other sharp-edged meshes)
    turned toward the camera.
    """
    v, f = _check_mesh(verts, faces)
    rot = _check_view(view)
    h, w = _check_size(size)
    light = _array(light, "light").astype(np.float64)
    if light.shape != (3,) or not np.isfinite(light).all() or not np.linalg.norm(light) > 0:
        raise ValueError(f"light must be a non-zero finite 3-vector, got {light!r}")
    bg = _array(background, "background")
    if bg.shape != (3,) or not np.all((bg >= 0) & (bg <= 255)):
        raise ValueError(f"background must be 3 values in 0..255, got {background!r}")
    if not 0 <= ambient <= 1:
        raise ValueError(f"ambient must be in [0, 1], got {ambient}")
    col = _check_rgb(SKIN if colors is None else colors, "colors", len(v))
    if smooth:
        nrm = _array(vertex_normals(v, f) if normals is None else normals, "normals").astype(np.float64)
        if nrm.shape != v.shape:
            raise ValueError(f"normals must have the shape of verts {v.shape}, got {nrm.shape}")

    uvz = v @ rot.T
    frame = fit_frame(uvz[_used(v, f)][:, :2], (h, w)) if frame is None else frame
    tri, bary, _ = rasterize(uvz, f, (h, w), frame)

    out = np.empty((h, w, 3))
    out[:] = bg.astype(np.float64) / 255.0
    hit = tri >= 0
    t, wts = tri[hit], bary[hit]
    corners = f[t]  # (P, 3) vertex ids of each covered pixel's triangle
    p = uvz[corners]
    face_n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    if smooth:  # interpolated normals, on the winding's side whatever convention they came with
        n = np.einsum("pk,pkj->pj", wts, nrm[corners]) @ rot.T
        n *= np.where(np.einsum("pj,pj->p", n, face_n) < 0, -1.0, 1.0)[:, None]
    else:
        n = face_n.copy()
    # two-sided: face the camera (depth axis points away from it), decided by the geometric face
    # normal so that interpolated normals at silhouettes cannot flip a face's shading
    n *= np.where(face_n[:, 2] > 0, -1.0, 1.0)[:, None]
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    lambert = np.clip(n @ (light / np.linalg.norm(light)), 0, 1)
    shade = ambient + (1 - ambient) * lambert
    rgb = np.einsum("pk,pkj->pj", wts, col[corners]) if col.ndim == 2 else col[None]
    out[hit] = rgb * shade[:, None]
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def _as_hwc(image):
    img = as_hwc(image)
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def caption_height(panel_height: int) -> int:
    """The height of the strip of panel names under a preview of panels `panel_height` high."""
    return max(12, round(panel_height * 0.09))


def _captions(names, panel_width, height):
    """A white strip (height, len(names) * panel_width, 3) with each name centred under its panel,
    in Pillow's own font, shrunk where a name would not fit its panel."""
    from PIL import Image, ImageDraw, ImageFont

    strip = Image.new("RGB", (panel_width * len(names), height), "white")
    draw = ImageDraw.Draw(strip)
    for k, name in enumerate(names):
        size = max(6, round(height * 0.72))
        font = ImageFont.load_default(size=size)
        while size > 6 and draw.textlength(name, font=font) > panel_width - 4:
            size -= 1
            font = ImageFont.load_default(size=size)
        draw.text((k * panel_width + panel_width / 2, height / 2), name, fill=(40, 40, 40), font=font, anchor="mm")
    return np.asarray(strip)


def preview(image, verts, faces, colors=None, size=256, align=True, labels=True, **render_kw):
    """[input image | front render | side render], (S, 3 * S', 3) uint8 for an S x S' panel size;
    with `colors`, [input | front, coloured | front, shape alone | side, coloured], (S, 4 * S', 3):
    a photo's colours painted on any blob look like a face from the front, so the shape is shown
    uncoloured too. With `labels` (default) each panel's name is written under it, on a strip
    caption_height(S) high.

    image: the network input, (H, W, 3), (3, H, W) or (H, W) uint8, resized to `size` (an int is
    the panel height; the width keeps the image's aspect). With align (default) verts are taken to
    be in that image's pixel coordinates: the front render is drawn in the image's own frame, so it
    lines up with the face, and the side render shares its rows and scale (centred on the mesh's
    depth range); without align each render is fitted to the mesh. render_kw go to render_mesh.
    Save it with vrnfast.io.save_png.
    """
    from PIL import Image

    img = _as_hwc(image)
    ih, iw = img.shape[:2]
    if np.ndim(size) == 0:
        _check_size(size)
        size = (int(size), max(1, round(iw * int(size) / ih)))
    h, w = _check_size(size)
    panel = np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))
    v, f = _check_mesh(verts, faces)
    frames = {"front": None, "side": None}
    if align:
        frames["front"] = (-0.5, -0.5, iw - 0.5, ih - 0.5)
        u = project(v[_used(v, f)], "side")[:, 0]
        centre = (u.min() + u.max()) / 2 if u.size else 0.0
        frames["side"] = (centre - iw / 2, -0.5, centre + iw / 2, ih - 0.5)
    panels = [("front", colors), ("side", colors)]
    names = ["network input", "front", "side"]
    if colors is not None:
        panels.insert(1, ("front", None))
        names = ["network input", "front, coloured", "front, shape alone", "side, coloured"]
    renders = [render_mesh(v, f, c, view, (h, w), frame=frames[view], **render_kw) for view, c in panels]
    out = np.concatenate([panel] + renders, axis=1)
    if labels:
        out = np.concatenate([out, _captions(names, w, caption_height(h))], axis=0)
    return out


def volume_preview(image, prob, size=256, z_scale=1.0, level=0.5, labels=True):
    """preview() of the surface of a probability volume (D, H, W) (numpy, torch or CuPy: meshed on
    its device) predicted from the network input `image`: [input | front | side], labelled. z_scale:
    the depth of a slice in pixels (vrnfast.io.volume_to_image)."""
    from .. import _backend as B
    from ..io import volume_to_image
    from ..ops.marching_cubes import marching_cubes

    verts, faces = (B.to_numpy(a, B.array_kind(a, "mesh")) for a in marching_cubes(prob, level))
    # the axis swap of volume_to_image is a reflection: reversing the winding keeps the normals
    return preview(image, volume_to_image(verts, z_scale), faces[:, ::-1], size=size, labels=labels)
