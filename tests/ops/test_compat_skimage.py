"""vrnfast.compat.skimage.marching_cubes against scikit-image's own function and the properties its
tests assert: ellipsoid areas, invalid inputs, step sizes, winding, masks (the corrected semantics:
a cell is meshed only when all 8 corners are unmasked) and degenerate triangles."""
import numpy as np
import pytest

from vrnfast.compat.skimage import marching_cubes

skimage_measure = pytest.importorskip("skimage.measure")
from skimage.draw import ellipsoid, ellipsoid_stats  # noqa: E402

sk_marching_cubes, mesh_surface_area = skimage_measure.marching_cubes, skimage_measure.mesh_surface_area


def _triangles(verts, faces):
    """The mesh as a sorted array of triangles, each with its corners sorted: order-free."""
    t = np.round(verts[faces].astype(np.float64), 5)
    t = np.array([np.concatenate(sorted(tri, key=tuple)) for tri in t])
    return t[np.lexsort(t.T[::-1])]


def _signed_volume(verts, faces):
    t = verts[faces].astype(np.float64)
    return np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6


def test_ellipsoid_area_isotropic_and_anisotropic():
    _, surf = ellipsoid_stats(6, 10, 16)
    verts, faces, _, _ = marching_cubes(ellipsoid(6, 10, 16, levelset=True), 0.0)
    area = mesh_surface_area(verts, faces)
    assert surf > area > surf * 0.99  # marching cubes always underestimates
    spacing = (1.0, 10 / 6.0, 16 / 6.0)
    verts, faces, _, _ = marching_cubes(ellipsoid(6, 10, 16, spacing=spacing, levelset=True), 0.0, spacing=spacing)
    area = mesh_surface_area(verts, faces)
    assert surf > area > surf * 0.985


@pytest.mark.parametrize("method", ["lewiner", "lorensen"])
def test_same_mesh_as_scikit_image_where_nothing_is_ambiguous(method):
    sphere = ellipsoid(1, 1, 1, levelset=True)
    ours = marching_cubes(sphere, 0, allow_degenerate=False, method=method)
    theirs = sk_marching_cubes(sphere, 0, allow_degenerate=False, method=method)
    np.testing.assert_allclose(_triangles(ours[0], ours[1]), _triangles(theirs[0], theirs[1]), atol=1e-5)
    assert ours[0].dtype == np.float32 and ours[1].dtype == np.int32 and ours[3].shape == (len(ours[0]),)


@pytest.mark.parametrize("step_size", [1, 2, 3])
@pytest.mark.parametrize("gradient_direction", ["descent", "ascent"])
def test_vertices_winding_and_normals_follow_scikit_image(step_size, gradient_direction):
    vol = ellipsoid(6, 10, 16, levelset=True)
    ours = marching_cubes(vol, 0.0, step_size=step_size, gradient_direction=gradient_direction, spacing=(1, 2, 0.5))
    theirs = sk_marching_cubes(vol, 0.0, step_size=step_size, gradient_direction=gradient_direction,
                               spacing=(1, 2, 0.5))
    from scipy.spatial import cKDTree

    assert len(ours[0]) == len(theirs[0]) and ours[0].dtype == theirs[0].dtype
    for a, b in zip(ours, theirs):  # the same types, and contiguous: code that hands them on keeps working
        assert a.dtype == b.dtype and a.flags.c_contiguous
    for a, b in ((ours[0], theirs[0]), (theirs[0], ours[0])):  # the same vertices
        assert cKDTree(b).query(a)[0].max() < 1e-4
    assert np.sign(_signed_volume(ours[0], ours[1])) == np.sign(_signed_volume(theirs[0], theirs[1])) != 0
    # unit normals along minus the gradient, whatever the winding (estimated differently: close)
    _, nearest = cKDTree(theirs[0]).query(ours[0])
    cos = np.sum(ours[2] * theirs[2][nearest], axis=1)
    np.testing.assert_allclose(np.linalg.norm(ours[2], axis=1), 1, atol=1e-5)
    assert cos.mean() > 0.99 and cos.min() > 0.9
    assert abs(mesh_surface_area(ours[0], ours[1]) / mesh_surface_area(theirs[0], theirs[1]) - 1) < 1e-3


def test_level_none_is_the_middle_of_the_data_range():
    vol = ellipsoid(6, 10, 16, levelset=True) * 2 + 3
    mid = 0.5 * (vol.min() + vol.max())
    default, at_mid = marching_cubes(vol), marching_cubes(vol, mid)
    np.testing.assert_array_equal(default[0], at_mid[0])


@pytest.mark.parametrize("args, kwargs, message", [
    ((np.zeros((2, 2, 1)), 0), {}, "at least 2x2x2"),
    ((np.zeros((2, 2, 1)), 1), {}, "at least 2x2x2"),
    ((np.ones((3, 3, 3)), 1), {"spacing": (1, 2)}, "`spacing` must consist of three floats"),
    ((np.zeros((20, 20)), 0), {}, "should be a 3D numpy array"),
    ((np.arange(27.0).reshape(3, 3, 3), 30), {}, "within volume data range"),
    ((np.arange(27.0).reshape(3, 3, 3), 13), {"step_size": 0}, "step_size must be at least one"),
    ((np.arange(27.0).reshape(3, 3, 3), 13), {"method": "cubes"}, "either 'lewiner' or 'lorensen'"),
    ((np.arange(27.0).reshape(3, 3, 3), 13), {"gradient_direction": "up"}, "Incorrect input up"),
    ((np.arange(27.0).reshape(3, 3, 3), 13), {"mask": np.ones((3, 3), bool)}, "same shape"),
])
def test_invalid_input_like_scikit_image(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        marching_cubes(*args, **kwargs)
    with pytest.raises(ValueError):  # scikit-image refuses the same
        sk_marching_cubes(*args, **kwargs)


def test_mask_meshes_only_cells_with_all_corners_unmasked():
    vol = ellipsoid(6, 10, 16, levelset=True)
    mask = np.ones(vol.shape, bool)
    mask[:10] = False
    mask[:, :, 20:] = False
    verts, faces, _, _ = marching_cubes(vol, 0, mask=mask)
    # independently: each triangle's cell from its centroid, and all of that cell's corners
    cell = np.floor(verts[faces].mean(axis=1)).astype(int)
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                assert mask[cell[:, 0] + dz, cell[:, 1] + dy, cell[:, 2] + dx].all()
    # and every such cell is meshed: scikit-image's unmasked mesh kept where its cells qualify
    full_v, full_f, _, _ = sk_marching_cubes(vol, 0)
    c = np.floor(full_v[full_f].mean(axis=1)).astype(int)
    keep = np.ones(len(full_f), bool)
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                keep &= mask[c[:, 0] + dz, c[:, 1] + dy, c[:, 2] + dx]
    np.testing.assert_allclose(mesh_surface_area(verts, faces), mesh_surface_area(full_v, full_f[keep]), rtol=1e-4)
    assert 0 < len(faces) < len(full_f)
    assert np.unique(faces).size == len(verts)  # no vertex left without a face


def test_a_lone_cube_with_any_corner_masked_has_no_surface():
    cube = np.zeros((2, 2, 2))
    cube[0, 0, 0] = 1.0
    assert len(marching_cubes(cube, 0.5)[1]) == 1
    for corner in np.ndindex(2, 2, 2):
        mask = np.ones((2, 2, 2), bool)
        mask[corner] = False
        with pytest.raises(RuntimeError, match="No surface found"):
            marching_cubes(cube, 0.5, mask=mask)


def test_degenerate_triangles_are_removed_on_request():
    """Integer data meshed at an integer level: vertices on the samples themselves, several edges
    giving the same point, zero-area triangles."""
    vol = np.zeros((5, 5, 5))
    vol[1:4, 1:4, 1:4] = 2
    vol[2, 2, 2] = 1  # at the level: outside, and its six edges to the inside all cross at it
    with_degenerate = marching_cubes(vol, 1.0)
    v, f, n, val = marching_cubes(vol, 1.0, allow_degenerate=False)
    area = lambda v, f: np.linalg.norm(np.cross(v[f][:, 1] - v[f][:, 0], v[f][:, 2] - v[f][:, 0]), axis=1)  # noqa: E731
    assert (area(*with_degenerate[:2]) == 0).any() and (area(v, f) > 0).all()
    assert len(np.unique(v, axis=0)) == len(v) and len(n) == len(val) == len(v)
    np.testing.assert_allclose(mesh_surface_area(v, f), mesh_surface_area(*with_degenerate[:2]), rtol=1e-6)


def _cells_max_reference(data, verts):
    """Per vertex, the largest corner value over the cells whose closed box holds the vertex: the
    definition by cells, one vertex at a time (the kernel's is by a window of samples)."""
    top = np.array(data.shape) - 2
    out = np.empty(len(verts))
    for i, v in enumerate(verts.astype(np.float64)):
        best = -np.inf
        for o in np.ndindex(2, 2, 2):
            c = np.floor(v).astype(int) - np.array(o)
            if (c < 0).any() or (c > top).any() or (v > c + 1).any():
                continue
            best = np.maximum(best, data[c[0]:c[0] + 2, c[1]:c[1] + 2, c[2]:c[2] + 2].max())
        out[i] = best
    return out


def test_values_are_the_largest_data_of_each_vertexs_cells():
    """Smooth noise, an odd-sized volume whose surface meets every face of it, integer data with
    vertices exactly on samples, a spike whose largest neighbour lies behind such a vertex, a step
    size and a mask: values against the cell-based reference."""
    from vrnfast.data import random_smooth

    noise = random_smooth((9, 14, 23), sigma=1.5, seed=5).astype(np.float64)
    ints = np.zeros((6, 7, 5), np.int16)
    ints[1:5, 2:6, 1:4] = 4
    ints[2, 3, 2] = 2  # at the level: the vertices of its edges sit on it
    spike = np.zeros((5, 5, 7), np.float32)
    spike[2, 2, 1:3] = 5, 2  # the vertex on sample (2, 2, 2): its cells reach back to the 5
    mask = np.ones(noise.shape, bool)
    mask[:, :, :6] = False
    for data, level, kw in [(noise, 0.0, {}), (ints, 2.0, {}), (spike, 2.0, {}), (noise, 0.0, {"step_size": 2}),
                            (noise, 0.0, {"mask": mask})]:
        verts, _, _, values = marching_cubes(data, level, **kw)
        step = kw.get("step_size", 1)
        stepped = data[::step, ::step, ::step]
        assert values.dtype == np.float32 and values.shape == (len(verts),)
        np.testing.assert_array_equal(values, _cells_max_reference(stepped, verts / step).astype(np.float32))
    assert (marching_cubes(ints, 2.0)[3] == 4).all()


def test_values_take_nan_from_the_data():
    data = random_smooth_nan()
    verts, _, _, values = marching_cubes(data, 0.0)
    ref = _cells_max_reference(data, verts)
    assert np.isnan(values).any()
    np.testing.assert_array_equal(np.isnan(values), np.isnan(ref))


def random_smooth_nan():
    from vrnfast.data import random_smooth

    data = random_smooth((8, 9, 10), sigma=1.5, seed=6)
    data[4, 4, 4] = np.nan
    return data


