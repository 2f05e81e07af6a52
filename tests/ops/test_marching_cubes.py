"""vrnfast.marching_cubes against scikit-image and against the properties a mesh must have."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.measure import marching_cubes as sk_marching_cubes

import vrnfast
from vrnfast.data import random_smooth, sphere, torus

from helpers import requires_cuda_ext
from helpers.mesh_checks import (assert_closed_and_oriented, assert_same_vertex_set, assert_valid_faces,
                         crossed_edges, face_normals, signed_volume)

ROOT = Path(__file__).resolve().parents[2]


def mc(volume, level=0.0, **kw):
    return vrnfast.marching_cubes(volume, level, **kw)


def sk_verts(volume, level):
    return sk_marching_cubes(np.asarray(volume, np.float32), level, method="lorensen")[0]


def padded(field, pad_value=-1.0):
    """The field with a one-voxel border of outside values: every surface is closed."""
    return np.pad(field, 1, constant_values=pad_value)


SHAPES = {
    "sphere": lambda: sphere((21, 22, 23), 7.3),
    "torus": lambda: torus((19, 33, 31), 9.0, 3.5),
    "sphere_cut_by_borders": lambda: sphere((16, 17, 18), 11.0, center=(3.0, 8.0, 9.5)),
    "smooth_noise": lambda: random_smooth((23, 30, 37), sigma=1.5, seed=3),
    "rough_noise": lambda: random_smooth((9, 40, 11), sigma=0.7, seed=4),
    "min_size": lambda: np.array([[[1, -1], [-1, 1]], [[-1, 1], [1, -1]]], np.float32),
}


@pytest.mark.parametrize("name", SHAPES)
def test_vertex_set_equals_skimage_lorensen(name):
    vol = SHAPES[name]()
    verts, faces = mc(vol)
    assert verts.dtype == np.float32 and faces.dtype == np.int32
    assert_same_vertex_set(verts, sk_verts(vol, 0.0))
    assert len(verts) == crossed_edges(vol, 0.0)
    assert_valid_faces(verts, faces)


@pytest.mark.parametrize("name", ["sphere", "torus", "smooth_noise", "rough_noise", "min_size"])
def test_closed_surfaces_are_watertight_and_wound_outward(name):
    vol = padded(SHAPES[name]())
    verts, faces = mc(vol)
    assert_closed_and_oriented(verts, faces)
    # normals toward lower values: the inside (> level) has positive volume
    assert signed_volume(verts, faces) > 0
    # no duplicate vertices: welded (a generic field has no value exactly at the level)
    assert len(np.unique(verts, axis=0)) == len(verts)


def test_enclosed_volume_and_area_match_skimage():
    vol = padded(torus((30, 41, 43), 12.0, 5.0))
    verts, faces = mc(vol)
    sv, sf, _, _ = sk_marching_cubes(vol, 0.0, method="lewiner")
    assert signed_volume(verts, faces) == pytest.approx(-signed_volume(sv, sf), rel=2e-3)
    area = lambda v, f: 0.5 * np.linalg.norm(face_normals(v, f), axis=1).sum()
    assert area(verts, faces) == pytest.approx(area(sv, sf), rel=5e-3)
    # and the analytic torus: volume 2 pi^2 R r^2
    assert signed_volume(verts, faces) == pytest.approx(2 * np.pi**2 * 12.0 * 5.0**2, rel=0.02)


def all_cases():
    """Every one of the 256 corner configurations, each alone in a padded 4x4x4 volume."""
    for case in range(256):
        vol = np.zeros((4, 4, 4), np.float32)
        for c in range(8):
            vol[1 + (c >> 2 & 1), 1 + (c >> 1 & 1), 1 + (c & 1)] = (case >> c) & 1
        yield case, vol


def test_every_case_gives_a_closed_oriented_surface():
    for case, vol in all_cases():
        verts, faces = mc(vol, 0.5)
        assert len(verts) == crossed_edges(vol, 0.5), case
        if case in (0, 255):
            assert len(verts) == 0 or case == 255
            continue
        assert_valid_faces(verts, faces)
        assert_closed_and_oriented(verts, faces)
        assert signed_volume(verts, faces) > 0, case


@pytest.mark.parametrize("seed", range(6))
def test_random_binary_volumes_are_watertight(seed):
    """Dense random occupancy exercises every ambiguous face and interior configuration."""
    rng = np.random.default_rng(seed)
    vol = padded((rng.random((7 + seed, 9, 8)) < 0.5).astype(np.uint8), 0)
    verts, faces = mc(vol, 0.5)
    assert len(verts) == crossed_edges(vol, 0.5)
    assert_closed_and_oriented(verts, faces)
    assert signed_volume(verts, faces) > 0
    assert_same_vertex_set(verts, sk_verts(vol, 0.5))


def test_face_winding_agrees_with_gradient_normals():
    vol = padded(random_smooth((20, 24, 22), sigma=2.0, seed=7))
    verts, faces, normals = mc(vol, return_normals=True)
    fn = face_normals(verts, faces)
    vn = normals[faces].sum(axis=1)
    agree = np.einsum("ij,ij->i", fn, vn) > 0
    assert agree.mean() > 0.99


def test_normals_match_sphere_and_skimage():
    c = np.array([15.2, 14.1, 16.3])
    vol = sphere((31, 30, 33), 10.0, center=c)
    verts, faces, normals = mc(vol, return_normals=True)
    assert normals.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    radial = (verts - c) / np.linalg.norm(verts - c, axis=1, keepdims=True)
    assert np.einsum("ij,ij->i", normals, radial).min() > 0.99  # toward lower values: outward
    sv, _, sn, _ = sk_marching_cubes(vol, 0.0, method="lorensen")
    sn = sn[np.lexsort(sv.T[::-1])]
    ours = normals[np.lexsort(verts.T[::-1])]
    assert np.einsum("ij,ij->i", ours, sn).min() > 0.98


def test_spacing_scales_vertices_and_normals():
    vol = random_smooth((12, 14, 16), sigma=1.5, seed=1)
    spacing = (0.5, 2.0, 1.25)
    v1, f1, n1 = mc(vol, return_normals=True)
    v2, f2, n2 = mc(vol, spacing=spacing, return_normals=True)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_allclose(v2, v1 * np.array(spacing, np.float32), rtol=1e-6, atol=1e-6)
    # gradients are per unit length: the normal's components scale by 1/spacing before normalising
    expect = n1 / np.array(spacing)
    expect /= np.linalg.norm(expect, axis=1, keepdims=True)
    np.testing.assert_allclose(n2, expect, atol=1e-5)
    assert_same_vertex_set(v2, sk_marching_cubes(vol, 0.0, spacing=spacing, method="lorensen")[0], atol=2e-5)


DTYPES = [np.float32, np.float64, np.float16, np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64,
          np.uint32, np.uint64]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_dtypes_equal_their_float64_values(dtype):
    rng = np.random.default_rng(0)
    hi = 100 if np.dtype(dtype).kind in "iu" else 1
    vol = (rng.random((9, 10, 11)) * hi).astype(dtype)
    level = 0.37 * hi
    verts, faces = mc(vol, level)
    v64, f64 = mc(vol.astype(np.float64), level)
    np.testing.assert_array_equal(faces, f64)
    np.testing.assert_array_equal(verts, v64)
    assert_same_vertex_set(verts, sk_verts(vol, level), atol=1e-4)


def test_bool_volume():
    vol = sphere((10, 11, 12), 3.5) > 0
    verts, faces = mc(vol, 0.5)
    v8, f8 = mc(vol.astype(np.uint8), 0.5)
    np.testing.assert_array_equal(verts, v8)
    np.testing.assert_array_equal(faces, f8)
    assert_closed_and_oriented(verts, faces)
    # binary volumes put every vertex at an edge midpoint
    assert np.all(np.isin(np.round(verts * 2) % 2, (0, 1))) and np.allclose(verts * 2, np.round(verts * 2))


def test_uint8_levels_at_the_ends_of_the_range():
    vol = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5) * 4
    for level in (-1.0, 0.0, 0.5, 127.5, 236.0, 254.9, 255.0, 300.0):
        verts, faces = mc(vol, level)
        assert len(verts) == crossed_edges(vol, level), level
        np.testing.assert_array_equal(verts, mc(vol.astype(np.float64), level)[0])


LAYOUTS = {
    "fortran": lambda a: np.asfortranarray(a),
    "reversed": lambda a: a[::-1, ::-1, ::-1],
    "sliced": lambda a: a[1::2, :, 3:-1],
    "transposed": lambda a: a.transpose(2, 0, 1),
    "x_strided": lambda a: a[:, :, ::3],
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_any_strides_give_the_contiguous_result(layout):
    base = random_smooth((17, 19, 41), sigma=1.5, seed=2)
    view = LAYOUTS[layout](base)
    copy = np.ascontiguousarray(view)
    for a, b in zip(mc(view, return_normals=True), mc(copy, return_normals=True)):
        np.testing.assert_array_equal(a, b)


def test_big_endian_and_unaligned_strides():
    vol = random_smooth((9, 10, 11), sigma=1.5, seed=13)
    ref = mc(vol)
    big = vol.astype(">f4")
    assert big.dtype.name == "float32" and not big.dtype.isnative
    for a, b in zip(mc(big), ref):
        np.testing.assert_array_equal(a, b)
    # a field of a packed record array: byte strides that are not a multiple of the item size
    rec = np.zeros(vol.shape, dtype=[("flag", "u1"), ("v", "<f4")])
    rec["v"] = vol
    assert rec["v"].strides[2] == 5
    for a, b in zip(mc(rec["v"]), ref):
        np.testing.assert_array_equal(a, b)


def test_zero_strides_broadcast_volume():
    plane = random_smooth((1, 13, 14), sigma=1.5, seed=5)
    vol = np.broadcast_to(plane, (6, 13, 14))
    assert vol.strides[0] == 0
    for a, b in zip(mc(vol), mc(np.ascontiguousarray(vol))):
        np.testing.assert_array_equal(a, b)


def test_torch_tensors_in_torch_out():
    vol = random_smooth((11, 12, 13), sigma=1.5, seed=6)
    ref_v, ref_f, ref_n = mc(vol, return_normals=True)
    t = torch.from_numpy(vol)
    v, f, n = mc(t, return_normals=True)
    assert isinstance(v, torch.Tensor) and v.dtype == torch.float32 and f.dtype == torch.int32
    np.testing.assert_array_equal(v.numpy(), ref_v)
    np.testing.assert_array_equal(f.numpy(), ref_f)
    np.testing.assert_array_equal(n.numpy(), ref_n)
    # a permuted (non-contiguous) tensor and a tensor that requires grad
    tp = torch.from_numpy(np.ascontiguousarray(vol.transpose(1, 2, 0))).permute(2, 0, 1)
    np.testing.assert_array_equal(mc(tp)[0].numpy(), ref_v)
    np.testing.assert_array_equal(mc(t.clone().requires_grad_())[1].numpy(), ref_f)


def test_torch_bfloat16_and_half():
    vol = random_smooth((8, 9, 10), sigma=1.5, seed=8)
    for dt in (torch.bfloat16, torch.float16):
        t = torch.from_numpy(vol).to(dt)
        v, f = mc(t)
        v32, f32 = mc(t.float())
        assert torch.equal(v, v32) and torch.equal(f, f32)


def test_empty_and_constant_volumes_give_empty_meshes():
    for vol, level in [(np.zeros((5, 6, 7), np.float32), 0.5), (np.ones((2, 2, 2)), 0.5),
                       (np.full((3, 3, 3), 0.5), 0.5), (np.zeros((4, 4, 4)), -1.0)]:
        verts, faces, normals = mc(vol, level, return_normals=True)
        assert verts.shape == (0, 3) and faces.shape == (0, 3) and normals.shape == (0, 3)
        assert verts.dtype == np.float32 and faces.dtype == np.int32
        rv, rf = mc(vol, level, backend="reference")
        assert rv.shape == (0, 3) and rf.shape == (0, 3)


def test_tie_rule_values_at_the_level_are_outside():
    vol = np.zeros((4, 4, 4), np.float32)
    vol[1:3, 1:3, 1:3] = 0.5  # exactly at the level: outside, no surface
    assert len(mc(vol, 0.5)[0]) == 0
    vol[2, 2, 2] = 0.75  # one voxel above: vertices where it meets its neighbours
    verts, faces = mc(vol, 0.5)
    assert len(verts) == 6 and len(faces) == 8
    assert_same_vertex_set(verts, sk_verts(vol, 0.5))
    # a value equal to the level on a crossed edge puts the vertex on that node
    assert np.any(np.all(verts == np.array([2.0, 2.0, 1.0], np.float32), axis=1))


def test_nan_voxels_are_outside_and_never_break_the_mesh():
    vol = random_smooth((12, 13, 14), sigma=1.5, seed=9)
    vol[np.random.default_rng(0).random(vol.shape) < 0.05] = np.nan
    verts, faces = mc(vol)
    as_outside = np.where(np.isnan(vol), -np.inf, vol)
    v2, f2 = mc(as_outside)
    np.testing.assert_array_equal(faces, f2)  # same topology as NaN -> -inf
    assert np.isfinite(verts).all()
    assert_valid_faces(verts, faces)
    all_nan = np.full((3, 3, 3), np.nan)
    assert len(mc(all_nan)[0]) == 0


def test_infinite_voxels():
    vol = np.full((3, 4, 5), -np.inf)
    vol[1, 1:3, 1:4] = np.inf
    verts, faces = mc(vol, 0.0)
    assert np.isfinite(verts).all() and len(verts) == crossed_edges(vol, 0.0)
    assert_closed_and_oriented(verts, faces)


def test_result_does_not_depend_on_thread_count():
    vol = random_smooth((37, 41, 29), sigma=1.2, seed=10)
    ref = mc(vol, return_normals=True)
    try:
        for n in (1, 2, 3, 7):
            vrnfast.set_num_threads(n)
            for a, b in zip(mc(vol, return_normals=True), ref):
                np.testing.assert_array_equal(a, b)
    finally:
        vrnfast.set_num_threads(0)


def test_output_order_is_rows_then_edges():
    """The documented order: rows (z, y) in order; in a row x-, then y-, then z-edges, by x."""
    vol = random_smooth((6, 7, 40), sigma=1.5, seed=11)
    verts, _ = mc(vol)
    inside = vol > 0
    expect = []
    for z in range(6):
        for y in range(7):
            for axis in (2, 1, 0):
                if (axis == 1 and y + 1 >= 7) or (axis == 0 and z + 1 >= 6):
                    continue
                for x in range(40 - (axis == 2)):
                    p = np.array([z, y, x])
                    q = p.copy()
                    q[axis] += 1
                    if inside[tuple(p)] != inside[tuple(q)]:
                        a, b = float(vol[tuple(p)]), float(vol[tuple(q)])
                        pos = p.astype(np.float64)
                        pos[axis] += (0.0 - a) / (b - a)
                        expect.append(pos)
    np.testing.assert_allclose(verts, np.array(expect), atol=1e-5)


def test_reference_backend_is_skimage():
    vol = torus((15, 25, 26), 7.0, 3.0)
    v, f = mc(vol, backend="reference")
    sv, sf, _, _ = sk_marching_cubes(vol, 0.0, method="lorensen")
    np.testing.assert_array_equal(v, sv.astype(np.float32))
    np.testing.assert_array_equal(f, sf)
    tv, tf = mc(torch.from_numpy(vol), backend="reference")
    assert isinstance(tv, torch.Tensor) and torch.equal(tv, torch.from_numpy(v))


def batch_of_faces_and_blanks(shape=(5, 7, 9)):
    """Spheres of growing radius with blank volumes between them. A volume has 5 * 7 = 35 rows, so
    the kernels' 32-row chunks straddle volumes, and the blanks put empty meshes mid-batch."""
    vols = [sphere(shape, r) for r in (1.5, 2.5, 3.5)]
    blank = np.full(shape, -1.0, np.float32)
    return np.stack([vols[0], blank, vols[1], blank, blank, vols[2]]).astype(np.float32)


def assert_batch_equals_single_calls(batch, level=0.0, **kw):
    got = vrnfast.marching_cubes(batch, level, **kw)
    assert isinstance(got, list) and len(got) == len(batch)
    for v, out in zip(batch, got):
        alone = vrnfast.marching_cubes(v, level, **kw)
        assert len(out) == len(alone)
        for a, b in zip(out, alone):
            assert type(a) is type(b) and a.dtype == b.dtype
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    return got


def test_a_batch_gives_each_volume_its_own_mesh():
    """(B, D, H, W) -> a list, each entry equal to the volume's own call (normals and spacing too),
    its face indices counting from its own first vertex, for numpy and torch and batch views that
    are not contiguous (reversed, strided, the batch axis innermost in memory)."""
    vols = batch_of_faces_and_blanks()
    last_axis = np.ascontiguousarray(np.moveaxis(vols, 0, -1))  # (D, H, W, B) in memory
    kw = {"spacing": (1.0, 2.0, 0.5), "return_normals": True}
    for batch in (vols, vols[::-1], vols[::2], np.moveaxis(last_axis, -1, 0), torch.from_numpy(vols),
                  torch.from_numpy(vols).flip(0)):
        assert_batch_equals_single_calls(batch, **kw)
    got = vrnfast.marching_cubes(vols, 0.0)
    sizes = [len(m[0]) for m in got]
    assert sizes[1] == sizes[3] == sizes[4] == 0 and 0 < sizes[0] < sizes[2] < sizes[5]
    for (verts, faces), vol in zip(got, vols):
        if len(verts):
            assert_same_vertex_set(verts, sk_verts(vol, 0.0))
        assert_valid_faces(verts, faces)
    assert vrnfast.marching_cubes(vols[:0], 0.0) == []


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float64, bool])
def test_a_batch_of_each_dtype(dtype):
    vols = batch_of_faces_and_blanks((6, 11, 40))
    batch = (vols > 0) if dtype is bool else ((vols + 1) * 60).astype(dtype)
    assert_batch_equals_single_calls(batch, 0.5 if dtype is bool else 60.0)


def test_a_batch_on_the_reference_backend():
    got = assert_batch_equals_single_calls(batch_of_faces_and_blanks(), backend="reference")
    ours = vrnfast.marching_cubes(batch_of_faces_and_blanks(), 0.0)
    for (rv, _), (v, _) in zip(got, ours):
        assert len(rv) == len(v)


@pytest.mark.parametrize("bad, exc, match", [
    (np.zeros((4, 4)), ValueError, "3-D"),
    (np.zeros((2, 3, 4, 5, 6)), ValueError, "3-D"),
    (np.zeros((2, 1, 4, 5)), ValueError, "at least 2"),
    (np.zeros((1, 4, 4)), ValueError, "at least 2"),
    (np.zeros((4, 4, 4), np.complex64), TypeError, "volume has dtype complex64"),
    (np.zeros((4, 4, 4), object), TypeError, "volume has dtype object"),
    ([[[0.0] * 3] * 3] * 3, TypeError, "volume must be"),
])
def test_bad_volumes(bad, exc, match):
    with pytest.raises(exc, match=match):
        vrnfast.marching_cubes(bad)


@pytest.mark.parametrize("kw, exc, match", [
    ({"level": float("nan")}, ValueError, "level must be finite"),
    ({"level": float("inf")}, ValueError, "level must be finite"),
    ({"level": "half"}, TypeError, "level must be a real number"),
    ({"level": "0.5"}, TypeError, "level must be a real number, got str '0.5'"),
    ({"level": b"0.5"}, TypeError, "level must be a real number, got bytes"),
    ({"level": 1j}, TypeError, "level must be a real number"),
    ({"spacing": (1.0, 0.0, 1.0)}, ValueError, "spacing"),
    ({"spacing": (1.0, -2.0, 1.0)}, ValueError, "spacing"),
    ({"spacing": (1.0, 1.0)}, ValueError, "spacing"),
    ({"spacing": (1.0, float("nan"), 1.0)}, ValueError, "spacing"),
    ({"spacing": 2.0}, TypeError, "spacing"),
    ({"backend": "fast"}, ValueError, "backend must be one of"),
    ({"backend": "triton"}, ValueError, "no 'triton' backend"),
    ({"backend": "cuda"}, ValueError, "needs a CUDA input"),
])
def test_bad_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        vrnfast.marching_cubes(np.zeros((3, 3, 3), np.float32), **kw)


def test_case_table_header_is_generated_from_its_script():
    subprocess.run([sys.executable, str(ROOT / "tools" / "gen_mc_tables.py"), "--check"], check=True)


def test_import_is_light(tmp_path):
    code = "import sys, vrnfast; print(any(m in sys.modules for m in ('torch', 'triton', 'cupy', 'vrnfast._cuda')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout  # the installed package, not a source checkout
    assert out.strip() == "False"


@pytest.mark.slow
def test_more_than_2_pow_31_voxels_use_64_bit_indexing():
    """3 x 40000 x 20000 = 2.4e9 voxels, broadcast from one plane so it costs no memory."""
    n1, n2 = 40000, 20000
    profile = np.full(n2, -1.0, np.float32)
    profile[n2 - 7:n2 - 3] = 1.0  # a slab near the end of each row: offsets past 2^31
    vol = np.broadcast_to(profile, (3, n1, n2))
    assert vol.size > 2**31
    verts, faces = mc(vol)
    # per row two x-crossings; the slab is open at the z and y borders
    assert len(verts) == crossed_edges(np.ascontiguousarray(vol[:, :2, :]), 0.0) // 2 * n1
    assert faces.max() == len(verts) - 1
    small = mc(np.ascontiguousarray(vol[:, :5, :]))[0]
    tail = verts[-len(small) // 5 * 2:]
    assert np.all(tail[:, 2] > n2 - 9) and np.all(tail[:, 2] < n2 - 2)
    assert_valid_faces(verts, faces[: 10**6])


@requires_cuda_ext
class TestCuda:
    @pytest.mark.parametrize("name", ["sphere", "torus", "smooth_noise", "rough_noise", "min_size"])
    def test_cuda_equals_cpu_bitwise(self, name):
        vol = SHAPES[name]()
        cpu = mc(torch.from_numpy(vol), return_normals=True)
        gpu = mc(torch.from_numpy(vol).cuda(), return_normals=True)
        for a, b in zip(cpu, gpu):
            assert b.is_cuda
            assert torch.equal(a, b.cpu())

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8,
                                       torch.int32, torch.bool])
    def test_cuda_dtypes_and_layouts(self, dtype):
        vol = torch.from_numpy(random_smooth((13, 17, 70), sigma=1.5, seed=12))
        vol = (vol > 0) if dtype == torch.bool else (vol * 50).to(dtype)
        for view in (vol, vol.transpose(0, 2), vol[::2, 1:, ::3]):
            a, b = mc(view, 0.5), mc(view.cuda(), 0.5)
            assert torch.equal(a[0], b[0].cpu()) and torch.equal(a[1], b[1].cpu())

    def test_cuda_empty_and_every_case(self):
        v, f = mc(torch.zeros(5, 5, 5, device="cuda"), 0.5)
        assert v.shape == (0, 3) and f.shape == (0, 3) and v.is_cuda
        for case, vol in all_cases():
            a = mc(torch.from_numpy(vol), 0.5)
            b = mc(torch.from_numpy(vol).cuda(), 0.5)
            assert torch.equal(a[1], b[1].cpu()), case

    def test_cuda_on_a_side_stream(self):
        vol = torch.from_numpy(SHAPES["torus"]()).cuda()
        ref = mc(vol)
        s = torch.cuda.Stream()
        with torch.cuda.stream(s):
            out = mc(vol)
        s.synchronize()
        assert torch.equal(ref[1], out[1])

    def test_cupy_arrays(self):
        cp = pytest.importorskip("cupy")
        vol = SHAPES["smooth_noise"]()
        v, f = mc(cp.asarray(vol))
        assert isinstance(v, cp.ndarray)
        ref = mc(vol)
        np.testing.assert_array_equal(cp.asnumpy(v), ref[0])
        np.testing.assert_array_equal(cp.asnumpy(f), ref[1])

    def test_cuda_batch_equals_cpu_bitwise(self):
        vols = torch.from_numpy(batch_of_faces_and_blanks())
        for batch in (vols, vols.flip(0), vols[::2]):
            cpu = mc(batch, return_normals=True)
            gpu = mc(batch.cuda(), return_normals=True)
            assert len(gpu) == len(batch)
            for a, b in zip(cpu, gpu):
                for x, y in zip(a, b):
                    assert y.is_cuda and torch.equal(x, y.cpu())

    def test_cpp_backend_refuses_cuda_input(self):
        with pytest.raises(ValueError, match="CPU arrays"):
            mc(torch.zeros(3, 3, 3, device="cuda"), backend="cpp")
