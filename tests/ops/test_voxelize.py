"""vrnfast.voxelize against exact inside tests and a brute-force NumPy ray-parity reference."""
import numpy as np
import pytest
import torch

import vrnfast
from vrnfast.data import random_smooth, sphere, torus

from helpers.voxels import brute_force


def mesh_of(field):
    """Marching-cubes mesh of a field (closed: padded outside), vertices in (x, y, z) = (w, h, d)."""
    verts, faces = vrnfast.marching_cubes(np.pad(field, 1, constant_values=-1.0), 0.0)
    return (verts - 1.0)[:, ::-1].copy(), faces


@pytest.mark.parametrize("name, field", [
    ("sphere", sphere((40, 42, 44), 15.3, center=(19.7, 20.2, 21.9))),
    ("torus", torus((30, 50, 52), 15.0, 6.0)),
    ("noise", random_smooth((23, 29, 31), sigma=1.6, seed=2)),
])
def test_marching_cubes_round_trip_is_exact(name, field):
    """Every ray x = w, y = h runs along grid lines, through the mesh's vertices and edges: the
    fill must count each crossing exactly once to give back exactly the voxels > 0."""
    xyz, faces = mesh_of(field)
    vol = vrnfast.voxelize(xyz, faces, field.shape)
    assert vol.dtype == np.uint8 and vol.shape == field.shape
    np.testing.assert_array_equal(vol, (field > 0).astype(np.uint8))


def test_matches_brute_force_in_generic_position():
    field = torus((14, 22, 21), 6.5, 2.6)
    xyz, faces = mesh_of(field)
    # move off the grid (rays then never touch a vertex or an edge) and tilt a little
    rot = np.array([[0.98, -0.17, 0.05], [0.17, 0.98, 0.02], [-0.05, -0.03, 0.99]])
    xyz = (xyz - xyz.mean(0)) @ rot.T + xyz.mean(0) + np.array([0.1234, 0.2345, 0.3456])
    shape = (16, 24, 23)
    np.testing.assert_array_equal(vrnfast.voxelize(xyz.astype(np.float32), faces, shape),
                                  brute_force(xyz.astype(np.float32), faces, shape))


def test_clipping_torch_and_threads():
    xyz, faces = mesh_of(sphere((30, 30, 30), 12.0))
    shifted = xyz + np.array([-8.5, 6.25, 9.0], np.float32)  # partly outside the volume
    ref = vrnfast.voxelize(shifted, faces, (25, 27, 26))
    assert 0 < ref.sum() < (sphere((30, 30, 30), 12.0) > 0).sum()
    t = vrnfast.voxelize(torch.from_numpy(shifted), torch.from_numpy(faces), (25, 27, 26))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and np.array_equal(t.numpy(), ref)
    try:
        vrnfast.set_num_threads(1)
        one = vrnfast.voxelize(shifted, faces, (25, 27, 26))
    finally:
        vrnfast.set_num_threads(0)
    np.testing.assert_array_equal(one, ref)


def test_empty_and_degenerate_meshes():
    assert vrnfast.voxelize(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32), (3, 4, 5)).sum() == 0
    flat = np.array([[0, 0, 1], [5, 0, 1], [0, 5, 1], [0, 0, 3]], np.float32)
    # a single open triangle: columns it covers are inside above z = 1; a vertical triangle covers none
    vol = vrnfast.voxelize(flat, np.array([[0, 1, 2], [0, 1, 3]]), (4, 6, 6))
    assert vol[2:, 1, 1].all() and not vol[:2].any() and vol[:, 5, 5].sum() == 0


@pytest.mark.parametrize("verts, faces, shape, exc, match", [
    (np.zeros((3, 2)), np.zeros((1, 3), int), (2, 2, 2), ValueError, "verts must have shape"),
    (np.zeros((3, 3)), np.zeros((1, 3), float), (2, 2, 2), ValueError, "faces must be an integer"),
    (np.zeros((3, 3)), np.array([[0, 1, 3]]), (2, 2, 2), ValueError, "outside"),
    (np.zeros((3, 3)), np.array([[0, 1, -1]]), (2, 2, 2), ValueError, "outside"),
    (np.zeros((3, 3)), np.array([[0, 1, 2]]), (2, 0, 2), ValueError, "shape must be"),
    (np.zeros((3, 3)), np.array([[0, 1, 2]]), "big", TypeError, "shape must be"),
    ([[0, 0, 0]], np.array([[0, 0, 0]]), (2, 2, 2), TypeError, "verts must be"),
    (np.array([[0, 0, 0], [1, np.nan, 0], [0, 1, 0]]), np.array([[0, 1, 2]]), (2, 2, 2), ValueError,
     "verts must be finite: 1 of 3"),
    (np.array([[0, 0, 0], [1, 0, np.inf], [0, 1, 0]]), np.array([[0, 1, 2]]), (2, 2, 2), ValueError,
     "verts must be finite"),
])
def test_bad_input(verts, faces, shape, exc, match):
    with pytest.raises(exc, match=match):
        vrnfast.voxelize(verts, faces, shape)
