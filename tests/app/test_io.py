"""Mesh writers, read back with independent parsers."""
import numpy as np
import pytest
import torch

import vrnfast
from vrnfast import io
from vrnfast.data import sphere


@pytest.fixture
def mesh():
    verts, faces, normals = vrnfast.marching_cubes(sphere((12, 13, 14), 4.0), 0.0, return_normals=True)
    colors = np.random.default_rng(0).random(verts.shape).astype(np.float32)
    return verts, faces, normals, colors


def read_obj(path):
    v, c, vn, f = [], [], [], []
    for line in open(path):
        parts = line.split()
        if parts[0] == "v":
            v.append([float(x) for x in parts[1:4]])
            if len(parts) > 4:
                c.append([float(x) for x in parts[4:7]])
        elif parts[0] == "vn":
            vn.append([float(x) for x in parts[1:4]])
        elif parts[0] == "f":
            f.append([int(p.split("/")[0]) - 1 for p in parts[1:]])
    return np.array(v), np.array(c), np.array(vn), np.array(f)


def read_ply(path):
    data = open(path, "rb").read()
    head, body = data.split(b"end_header\n", 1)
    lines = head.decode().splitlines()
    assert lines[:2] == ["ply", "format binary_little_endian 1.0"]
    nv = int(next(l for l in lines if l.startswith("element vertex")).split()[-1])
    nf = int(next(l for l in lines if l.startswith("element face")).split()[-1])
    props = [l.split()[1:] for l in lines if l.startswith("property ") and "list" not in l]
    dt = np.dtype([(name, {"float": "<f4", "uchar": "u1"}[t]) for t, name in props])
    verts = np.frombuffer(body, dt, count=nv)
    faces = np.frombuffer(body, np.dtype([("n", "u1"), ("i", "<i4", (3,))]), count=nf, offset=nv * dt.itemsize)
    assert len(body) == nv * dt.itemsize + nf * 13
    return verts, faces


def test_obj_round_trip(tmp_path, mesh):
    verts, faces, normals, colors = mesh
    io.save_obj(tmp_path / "m.obj", verts, faces, colors=colors, normals=normals)
    v, c, vn, f = read_obj(tmp_path / "m.obj")
    np.testing.assert_allclose(v, verts, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c, np.rint(colors * 255) / 255, atol=1e-3)
    np.testing.assert_allclose(vn, normals, atol=1e-5)
    np.testing.assert_array_equal(f, faces)


def test_ply_round_trip(tmp_path, mesh):
    verts, faces, normals, colors = mesh
    u8 = (colors * 255).astype(np.uint8)
    io.save_ply(tmp_path / "m.ply", verts, faces, colors=u8, normals=normals)
    v, f = read_ply(tmp_path / "m.ply")
    np.testing.assert_array_equal(np.stack([v["x"], v["y"], v["z"]], 1), verts)
    np.testing.assert_array_equal(np.stack([v["nx"], v["ny"], v["nz"]], 1), normals)
    np.testing.assert_array_equal(np.stack([v["red"], v["green"], v["blue"]], 1), u8)
    assert np.all(f["n"] == 3)
    np.testing.assert_array_equal(f["i"], faces)


def test_plain_mesh_and_torch_input(tmp_path, mesh):
    verts, faces, _, _ = mesh
    io.save_mesh(tmp_path / "a.ply", torch.from_numpy(verts), torch.from_numpy(faces))
    v, f = read_ply(tmp_path / "a.ply")
    assert v.dtype.names == ("x", "y", "z")
    np.testing.assert_array_equal(f["i"], faces)
    io.save_mesh(tmp_path / "a.obj", verts, faces)
    np.testing.assert_array_equal(read_obj(tmp_path / "a.obj")[3], faces)


def test_empty_mesh(tmp_path):
    io.save_ply(tmp_path / "e.ply", np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32))
    v, f = read_ply(tmp_path / "e.ply")
    assert len(v) == 0 and len(f) == 0


@pytest.mark.parametrize("verts, faces, kw, match", [
    (np.zeros((3, 2)), np.zeros((1, 3), np.int32), {}, "verts must have shape"),
    (np.zeros((3, 3)), np.zeros((1, 4), np.int32), {}, "faces must be"),
    (np.zeros((3, 3)), np.zeros((1, 3), np.float32), {}, "faces must be"),
    (np.zeros((3, 3)), np.array([[0, 1, 3]]), {}, "outside"),
    (np.zeros((3, 3)), np.array([[0, 1, 2]]), {"colors": np.zeros((2, 3))}, "colors must have shape"),
])
def test_bad_meshes(tmp_path, verts, faces, kw, match):
    with pytest.raises(ValueError, match=match):
        io.save_ply(tmp_path / "x.ply", verts, faces, **kw)
    assert not (tmp_path / "x.ply").exists()


def test_bad_suffix(tmp_path, mesh):
    with pytest.raises(ValueError, match=".obj or .ply"):
        io.save_mesh(tmp_path / "m.stl", mesh[0], mesh[1])


def test_volume_to_image_coordinates():
    v = np.array([[10.0, 20.0, 30.0], [0.0, 1.5, 2.5]], np.float32)  # (d, h, w)
    np.testing.assert_array_equal(io.volume_to_image(v), [[30, 20, 10], [2.5, 1.5, 0]])
    np.testing.assert_array_equal(io.volume_to_image(v, z_scale=0.5), [[30, 20, 5], [2.5, 1.5, 0]])
    t = io.volume_to_image(torch.from_numpy(v), z_scale=2.0)
    assert isinstance(t, torch.Tensor) and t[0].tolist() == [30, 20, 20]
    with pytest.raises(ValueError, match="z_scale must be finite"):
        io.volume_to_image(v, z_scale=float("inf"))
    with pytest.raises(ValueError, match="verts must have shape"):
        io.volume_to_image(v[:, :2])


def test_ascii_fields_match_pythons_formatting(rng):
    """The column-at-a-time OBJ fields against str formatting, one number at a time."""
    from vrnfast.io._ascii import fixed, join, tokens

    exact = np.concatenate([rng.integers(-40000, 40000, 500) / 16, [0.0, -0.0, 0.5, -0.5, 9.9375, -1000.0]])
    got = [bytes(r).decode() for r in fixed(exact, 4)]
    assert len({len(g) for g in got}) == 1  # one width: right-aligned
    assert [g.strip() for g in got] == [f"{x:.4f}".replace("-0.0000", "0.0000") for x in exact]
    x = np.concatenate([rng.normal(0, 300, 2000), rng.uniform(-1, 1, 500), [1e-9, -1e-9, 123456.9999996]])
    for d in (0, 3, 6):
        parsed = np.array([float(bytes(r)) for r in fixed(x, d)])
        assert np.all(np.abs(parsed - x) <= 0.5 * 10.0 ** -d * (1 + 1e-9) + 1e-9 * np.abs(x))
    assert not any(bytes(r).strip().startswith(b"-0.000") and float(bytes(r)) == 0 for r in fixed(x, 3))
    ints = np.concatenate([rng.integers(0, 10 ** 7, 300), [0, 9, 10, 99, 100, 10 ** 6]])
    for repeat, sep in ((1, ""), (2, "//"), (3, "/")):
        got = [bytes(r).decode() for r in tokens(ints, repeat, sep)]
        assert [g.lstrip(" ") for g in got] == [sep.join([str(int(i))] * repeat) for i in ints]
        assert len({len(g) for g in got}) == 1 and all(" " not in g.strip() for g in got)
    assert join("v", " ", fixed(np.array([1.5, -2.0]), 1)) == b"v  1.5\nv -2.0\n"
    with pytest.raises(ValueError, match="finite"):
        fixed(np.array([np.nan]), 2)
    with pytest.raises(ValueError, match=">= 0"):
        tokens(np.array([-1]))


def test_textured_obj_round_trip(tmp_path, mesh):
    verts, faces, normals, _ = mesh
    uv = np.random.default_rng(1).random((len(verts), 2))
    io.save_obj(tmp_path / "t.obj", verts, faces, normals=normals, uv=uv, material=("t.mtl", "skin"))
    lines = (tmp_path / "t.obj").read_text().splitlines()
    assert lines[:2] == ["mtllib t.mtl", "usemtl skin"]
    vt = np.array([[float(v) for v in line.split()[1:]] for line in lines if line.startswith("vt ")])
    np.testing.assert_allclose(vt, uv, atol=1e-6)
    f = [line.split()[1:] for line in lines if line.startswith("f ")]
    assert all(t.split("/") == [t.split("/")[0]] * 3 for row in f for t in row)  # v/vt/vn alike
    np.testing.assert_array_equal(read_obj(tmp_path / "t.obj")[3], faces)
    with pytest.raises(ValueError, match="uv must have shape"):
        io.save_obj(tmp_path / "u.obj", verts, faces, uv=uv[:-1])


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError])
def test_atomic_write_is_whole_or_nothing(tmp_path, stop):
    """Ctrl-C (or a failure) half-way through a write leaves the old file as it was and no
    temporary file; a finished write replaces it in one rename, with the usual permissions, and
    makes the folders it needs."""
    import os
    import stat

    target = tmp_path / "m.ply"
    target.write_bytes(b"old")

    def half(f):
        f.write(b"new, half")
        raise stop

    with pytest.raises(stop):
        io.atomic_write(target, half)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["m.ply"]
    deep = tmp_path / "a" / "b" / "m.ply"
    assert io.atomic_write(deep, lambda f: f.write(b"new")) == deep and deep.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(deep.stat().st_mode) == 0o666 & ~umask  # as open() makes files, not mkstemp's 0600
