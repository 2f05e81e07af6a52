"""vrnfast.viz.render: silhouettes, z-buffer, shading and orientation conventions of the preview renderer."""
import numpy as np
import pytest

import vrnfast
from vrnfast.viz import render
from vrnfast.io import volume_to_image
from vrnfast.viz.render import SKIN, preview, rasterize, render_mesh, vertex_normals

MAGENTA = (255, 0, 255)  # a background no shaded grey can take


def ball_mesh(n=48, radius=18.0, centre=None):
    """Marching-cubes sphere in (d, h, w) order: a soft occupancy crossing 0.5 exactly at `radius`."""
    c = np.full(3, (n - 1) / 2) if centre is None else np.asarray(centre, float)
    d, h, w = np.meshgrid(*(np.arange(n),) * 3, indexing="ij")
    dist = np.sqrt((d - c[0]) ** 2 + (h - c[1]) ** 2 + (w - c[2]) ** 2)
    occupancy = np.clip(radius + 0.5 - dist, 0, 1).astype(np.float32)
    return vrnfast.marching_cubes(occupancy, level=0.5)


def box_mesh(lo, hi):
    """Axis-aligned box, 12 triangles wound with right-hand normals pointing out."""
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    v = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)], np.float32)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    f = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))], np.int32)
    return v, f


def covered(img, background=MAGENTA):
    return np.any(img != np.array(background, np.uint8), axis=-1)


def unit_frame(n):
    """Screen rectangle of an n x n render with one pixel per unit, pixel centres at integers."""
    return (-0.5, -0.5, n - 0.5, n - 0.5)


def test_vertex_normals_of_a_marching_cubes_sphere_point_outward():
    verts, faces = ball_mesh()
    n = vertex_normals(verts, faces)
    assert n.dtype == np.float32 and n.shape == verts.shape
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1, atol=1e-5)
    radial = verts - verts.mean(axis=0)
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    assert np.einsum("ij,ij->i", n, radial).min() > 0.9
    # volume_to_image swaps d and w, which mirrors space: the same winding then points inward
    img_verts = volume_to_image(verts)
    assert np.einsum("ij,ij->i", vertex_normals(img_verts, faces), img_verts - img_verts.mean(0)).max() < 0


def test_unreferenced_vertices_get_zero_normals():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5]], np.float32)
    n = vertex_normals(v, [[0, 1, 2]])
    np.testing.assert_allclose(n[:3], [[0, 0, 1]] * 3)
    assert np.all(n[3] == 0)


def test_sphere_renders_as_a_disc_of_its_radius():
    verts, faces = ball_mesh(48, 18.0)
    v = volume_to_image(verts)
    img = render_mesh(v, faces, size=48, frame=unit_frame(48), background=MAGENTA)
    area = np.count_nonzero(covered(img))
    assert abs(area / (np.pi * 18.0**2) - 1) < 0.03
    rows, cols = np.nonzero(covered(img))
    assert abs(rows.mean() - 23.5) < 0.2 and abs(cols.mean() - 23.5) < 0.2
    # fitted frame: the disc spans the image less a 5 % margin each side
    fitted = covered(render_mesh(v, faces, size=100, background=MAGENTA))
    assert abs(np.count_nonzero(fitted) / (np.pi * 45.0**2) - 1) < 0.03


def test_sphere_is_brighter_on_the_lit_side_and_white_light_gives_the_full_colour():
    verts, faces = ball_mesh()
    v = volume_to_image(verts)
    img = render_mesh(v, faces, size=64, light=(-1, 0, -0.3), background=MAGENTA).astype(float)
    mask = covered(img.astype(np.uint8))
    lum = img.sum(axis=-1)
    left, right = mask.copy(), mask.copy()
    left[:, 32:] = False
    right[:, :32] = False
    assert lum[left].mean() > 1.5 * lum[right].mean()
    # light from the camera: the disc's centre faces it squarely, the rim only grazes it
    head_on = render_mesh(v, faces, size=64, light=(0, 0, -1), ambient=0.2)
    np.testing.assert_allclose(head_on[32, 32], np.rint(np.array(SKIN) * 255), atol=3)
    edge = head_on[32][covered(head_on, (255, 255, 255))[32]][0]
    assert edge.sum() < 0.6 * head_on[32, 32].astype(float).sum()


def test_shading_ignores_the_winding_so_back_faces_show():
    verts, faces = ball_mesh(32, 12.0)
    v = volume_to_image(verts)
    a = render_mesh(v, faces, size=64)
    b = render_mesh(v, faces[:, ::-1], size=64)
    np.testing.assert_array_equal(a, b)
    # normals given with the opposite convention to the winding shade the same too
    c = render_mesh(v, faces, size=64, normals=-vertex_normals(v, faces))
    np.testing.assert_array_equal(a, c)
    # an open hemisphere seen from inside (its far half only) is still drawn and shaded
    far = faces[v[faces].mean(axis=1)[:, 2] > v[:, 2].mean()]
    inside = render_mesh(v, far, size=64, frame=render.fit_frame(v[:, :2], 64), background=MAGENTA)
    assert np.count_nonzero(covered(inside)) == np.count_nonzero(covered(a, (255, 255, 255)))
    assert inside[covered(inside)].std() > 5


def test_zbuffer_keeps_the_nearer_of_two_overlapping_triangles():
    # two big triangles over the whole frame: the red one at depth 1, the blue one at depth 5
    tri = np.array([[-50, -50], [150, -50], [-50, 150]], float)
    verts = np.concatenate([np.c_[tri, np.full(3, 5.0)], np.c_[tri, np.full(3, 1.0)]])
    colors = np.array([[0, 0, 255]] * 3 + [[255, 0, 0]] * 3, np.uint8)
    for faces in ([[0, 1, 2], [3, 4, 5]], [[3, 4, 5], [0, 1, 2]]):
        img = render_mesh(verts, faces, colors, size=32, frame=unit_frame(32), light=(0, 0, -1))
        assert np.all(img[..., 0] == 255) and np.all(img[..., 2] == 0)
    ids, bary, depth = rasterize(verts, np.array([[0, 1, 2], [3, 4, 5]]), 32, unit_frame(32))
    assert np.all(ids == 1) and np.allclose(depth, 1.0) and np.allclose(bary.sum(-1), 1)


def test_zbuffer_resolves_interpenetrating_planes_per_pixel():
    # a tilted plane crossing a flat one at x = 16: left of it the tilted plane is nearer
    quad = np.array([[0, 1, 2], [0, 2, 3]])
    flat = np.array([[-1, -1, 10], [40, -1, 10], [40, 40, 10], [-1, 40, 10]], float)
    tilted = flat.copy()
    tilted[:, 2] = 10 + (tilted[:, 0] - 16)
    verts, faces = np.concatenate([flat, tilted]), np.concatenate([quad, quad + 4])
    ids, _, depth = rasterize(verts, faces, 32, unit_frame(32))
    x = np.arange(32)
    assert np.all(ids[:, x < 16] >= 2) and np.all(ids[:, x > 16] < 2)
    np.testing.assert_allclose(depth, np.minimum(10, 10 + x - 16)[None].repeat(32, 0), atol=1e-9)


def test_chunked_rasterisation_matches_one_pass(monkeypatch):
    verts, faces = ball_mesh(24, 9.0)
    v = volume_to_image(verts)
    whole = render_mesh(v, faces, size=40)
    monkeypatch.setattr(render, "CHUNK", 37)
    np.testing.assert_array_equal(render_mesh(v, faces, size=40), whole)


def test_front_and_side_silhouettes_of_a_box_long_in_depth():
    v, f = box_mesh((0, 0, 0), (10, 10, 40))
    front = covered(render_mesh(v, f, view="front", size=100, background=MAGENTA))
    side = covered(render_mesh(v, f, view="side", size=100, background=MAGENTA))

    def aspect(mask):
        rows, cols = np.nonzero(mask)
        return (np.ptp(cols) + 1) / (np.ptp(rows) + 1)

    assert abs(aspect(front) - 1) < 0.05
    assert abs(aspect(side) - 4) < 0.2
    # flat shading: the end face seen head-on is one uniform colour
    flat = render_mesh(v, f, view="front", size=100, background=MAGENTA, light=(0, 0, -1), smooth=False)
    assert len(np.unique(flat[front], axis=0)) == 1


def test_side_view_puts_the_face_front_on_the_right_and_front_view_keeps_image_axes():
    v, f = box_mesh((0, 0, 0), (10, 10, 40))
    near = v[:, 2] == 0  # the end nearest the front camera: the "nose" side
    colors = np.where(near[:, None], [255, 0, 0], [0, 0, 255]).astype(np.uint8)
    side = render_mesh(v, f, colors, view="side", size=100, light=(0, 0, -1), background=(0, 0, 0))
    row = side[50][covered(side[50:51], (0, 0, 0))[0]].astype(int)
    assert row[-1, 0] > row[-1, 2] and row[0, 2] > row[0, 0]
    left = render_mesh(v, f, colors, view="left", size=100, light=(0, 0, -1), background=(0, 0, 0))
    row = left[50][covered(left[50:51], (0, 0, 0))[0]].astype(int)  # seen from the other side: mirrored
    assert row[0, 0] > row[0, 2] and row[-1, 2] > row[-1, 0]
    # front: image x to the right, y down -- a triangle in the upper left corner stays there
    tri = np.array([[0, 0, 0], [20, 0, 0], [0, 20, 0]], float)
    img = covered(render_mesh(tri, [[0, 1, 2]], size=32, frame=unit_frame(32), background=MAGENTA))
    assert img[2, 2] and img[2, 16] and img[16, 2] and not img[16, 16] and not img[30, 30]


def test_vertex_colours_show_up():
    verts, faces = ball_mesh(32, 12.0)
    v = volume_to_image(verts)
    green = render_mesh(v, faces, np.array([0, 255, 0], np.uint8), size=48, background=(0, 0, 0))
    lit = covered(green, (0, 0, 0))
    assert lit.any() and np.all(green[lit][:, [0, 2]] == 0) and green[lit][:, 1].min() > 0
    # per-vertex: red on the left half of the sphere (small x), blue on the right
    colors = np.where(v[:, :1] < v[:, 0].mean(), [1.0, 0, 0], [0, 0, 1.0])
    img = render_mesh(v, faces, colors, size=48, background=(0, 0, 0)).astype(int)
    assert img[24, 12, 0] > img[24, 12, 2] and img[24, 36, 2] > img[24, 36, 0]
    np.testing.assert_array_equal(render_mesh(v, faces, (colors * 255).astype(np.uint8), size=48),
                                  render_mesh(v, faces, colors, size=48))


def test_empty_mesh_renders_the_background():
    img = render_mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), size=(8, 12), background=(1, 2, 3))
    assert img.shape == (8, 12, 3) and np.all(img == [1, 2, 3])


@pytest.mark.parametrize("kwargs, name", [
    (dict(verts=np.zeros((4, 2))), "verts"),
    (dict(verts=np.full((4, 3), np.nan)), "verts"),
    (dict(faces=np.array([[0, 1, 4]])), "faces"),
    (dict(faces=np.array([[0, 1, -1]])), "faces"),
    (dict(faces=np.array([[0.0, 1.0, 2.0]])), "faces"),
    (dict(faces=np.array([0, 1, 2])), "faces"),
    (dict(view="top"), "view"),
    (dict(colors=np.zeros((3, 3), np.uint8)), "colors"),
    (dict(colors=np.full((4, 3), 2.0)), "colors"),
    (dict(size=0), "size"),
    (dict(size=(10, 10, 3)), "size"),
    (dict(light=(0, 0, 0)), "light"),
    (dict(background=(0, 0, 300)), "background"),
    (dict(frame=(10, 0, 0, 10)), "frame"),
    (dict(frame=(0, 0, 10)), "frame"),
    (dict(normals=np.zeros((3, 3))), "normals"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(kwargs, name):
    args = dict(verts=np.eye(4, 3), faces=np.array([[0, 1, 2]]))
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        render_mesh(**args)


def test_preview_puts_image_front_and_side_side_by_side():
    verts, faces = ball_mesh(64, 10.0, centre=(30, 20, 40))  # (d, h, w): centred at x=40, y=20
    v = volume_to_image(verts)
    image = np.zeros((3, 64, 64), np.uint8)
    image[0] = 200
    out = preview(image, v, faces, size=96, labels=False)
    assert out.shape == (96, 288, 3) and out.dtype == np.uint8
    assert np.all(out[:, :96, 0] == 200) and np.all(out[:, :96, 1:] == 0)
    # the front render is drawn in the image's frame: the disc sits where the ball is
    rows, cols = np.nonzero(covered(out[:, 96:192], (255, 255, 255)))
    assert abs(cols.mean() - 40.5 * 1.5) < 1 and abs(rows.mean() - 20.5 * 1.5) < 1
    assert preview(np.zeros((48, 64, 3), np.uint8), v, faces, size=96, labels=False).shape == (96, 384, 3)
    with pytest.raises(ValueError, match="image"):
        preview(np.zeros((64, 64, 3), np.float32), v, faces)


def test_coloured_preview_adds_the_shape_alone_beside_the_coloured_views():
    """A photo's colours make any blob look like a face from the front: a coloured preview also
    shows the front view without them, the same whatever the colours are."""
    verts, faces = ball_mesh(64, 10.0, centre=(30, 20, 40))
    v = volume_to_image(verts)
    image = np.full((64, 64, 3), 90, np.uint8)
    red, blue = np.zeros((len(v), 3), np.uint8), np.zeros((len(v), 3), np.uint8)
    red[:, 0], blue[:, 2] = 220, 220
    a, b = (preview(image, v, faces, c, size=64, labels=False) for c in (red, blue))
    assert a.shape == (64, 256, 3)
    front, shape, side = (a[:, 64 * k:64 * (k + 1)] for k in (1, 2, 3))
    plain = preview(image, v, faces, size=64, labels=False)  # uncoloured: [input | front | side]
    np.testing.assert_array_equal(shape, plain[:, 64:128])  # the skin-grey front render
    np.testing.assert_array_equal(shape, b[:, 128:192])  # not painted by the colours
    assert not np.array_equal(front, shape) and not np.array_equal(a[:, 64:128], b[:, 64:128])
    hit = covered(shape, (255, 255, 255))
    px = shape[hit].astype(np.float64)
    px = px[px[:, 2] > 40]  # lit enough for the ratio to be exact to rounding
    assert len(px) > 100 and np.allclose(px[:, 0] / px[:, 2], SKIN[0] / SKIN[2], atol=0.05)  # skin grey
    np.testing.assert_array_equal(covered(side, (255, 255, 255)), covered(plain[:, 128:], (255, 255, 255)))


@pytest.mark.parametrize("coloured", [False, True])
def test_preview_names_its_panels_under_them(coloured):
    """Labels add a strip under the panels, which stay as they were; each panel's name is written
    under that panel alone (ink within its own width), and no two names are alike."""
    verts, faces = ball_mesh(64, 10.0, centre=(30, 20, 40))
    v = volume_to_image(verts)
    image = np.full((64, 64, 3), 90, np.uint8)
    colors = np.full((len(v), 3), 200, np.uint8) if coloured else None
    bare = preview(image, v, faces, colors, size=96, labels=False)
    out = preview(image, v, faces, colors, size=96)
    strip_h = render.caption_height(96)
    assert out.shape == (96 + strip_h, bare.shape[1], 3)
    np.testing.assert_array_equal(out[:96], bare)
    strip = out[96:]
    panels = bare.shape[1] // 96
    names = []
    for k in range(panels):
        cell = strip[:, 96 * k:96 * (k + 1)]
        ink = np.any(cell < 128, axis=2)
        assert ink.sum() > 20, f"panel {k} has no name under it"
        cols = np.nonzero(ink.any(axis=0))[0]
        assert cols.min() > 0 and cols.max() < 95  # inside its own panel's width
        names.append(cell.tobytes())
    assert len(set(names)) == panels
