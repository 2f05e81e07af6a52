"""Independent checks on triangle meshes (NumPy only), shared by the marching-cubes tests."""
import numpy as np


def sorted_rows(a):
    a = np.asarray(a, dtype=np.float64)
    return a[np.lexsort(a.T[::-1])]


def assert_same_vertex_set(verts, ref_verts, atol=1e-5):
    assert verts.shape == ref_verts.shape, (verts.shape, ref_verts.shape)
    np.testing.assert_allclose(sorted_rows(verts), sorted_rows(ref_verts), atol=atol, rtol=0)


def edge_counts(faces, n_verts):
    """Directed-edge keys of all triangles, and how often each undirected edge occurs."""
    f = np.asarray(faces, dtype=np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    directed = e[:, 0] * n_verts + e[:, 1]
    undirected = np.minimum(e[:, 0], e[:, 1]) * n_verts + np.maximum(e[:, 0], e[:, 1])
    _, counts = np.unique(undirected, return_counts=True)
    return directed, e, counts


def assert_closed_and_oriented(verts, faces):
    """Watertight (every edge in exactly two triangles) and consistently wound (each directed edge
    once, its reverse once)."""
    n = len(verts)
    directed, e, counts = edge_counts(faces, n)
    assert np.all(counts == 2), f"{np.sum(counts != 2)} edges not shared by exactly two triangles"
    assert len(np.unique(directed)) == len(directed), "a directed edge appears twice: inconsistent winding"
    reverse = e[:, 1] * n + e[:, 0]
    assert np.isin(reverse, directed).all(), "an edge is missing its opposite half-edge"


def assert_valid_faces(verts, faces):
    f = np.asarray(faces)
    assert f.ndim == 2 and f.shape[1] == 3
    if len(f):
        assert f.min() >= 0 and f.max() < len(verts)
        assert np.all((f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])), "repeated index in a face"


def signed_volume(verts, faces):
    p = np.asarray(verts, dtype=np.float64)[np.asarray(faces)]
    return np.einsum("ij,ij->i", p[:, 0], np.cross(p[:, 1], p[:, 2])).sum() / 6.0


def face_normals(verts, faces):
    p = np.asarray(verts, dtype=np.float64)[np.asarray(faces)]
    return np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])


def crossed_edges(volume, level):
    """Number of grid edges whose end values straddle the level (value > level on one end only)."""
    inside = np.asarray(volume) > level
    return sum(int(np.count_nonzero(np.diff(inside, axis=a))) for a in range(3))
