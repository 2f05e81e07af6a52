"""vrnfast.metrics: rigid alignment, trimmed ICP, the 3-D NME and the landmark error."""
import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from vrnfast import metrics

IO = 90.0  # interocular distance (mm) used to normalise the synthetic faces' errors


def _gauss(x, y, cx, cy, sx, sy):
    return np.exp(-((x - cx) ** 2 / (2 * sx ** 2) + (y - cy) ** 2 / (2 * sy ** 2)))


def _face_z(x, y):
    """A face-like height field (mm): cheeks curving away faster than brow-to-chin, a nose ridge,
    brow, eye sockets, lips and chin."""
    return (-x ** 2 / 60 - y ** 2 / 300
            + 22 * _gauss(x, y, 0, 0, 7, 16)
            + 6 * _gauss(x, y, 0, 30, 30, 6)
            - 8 * _gauss(np.abs(x), y, 30, 18, 9, 6)
            + 5 * _gauss(x, y, 0, -30, 14, 5)
            + 6 * _gauss(x, y, 0, -52, 14, 8))


def _grid(step, offset=0.0):
    """(x, y) of a square grid inside the 100 x 130 mm face ellipse."""
    x, y = np.meshgrid(np.arange(-50 + offset, 50, step), np.arange(-65 + offset, 65, step))
    x, y = x.ravel(), y.ravel()
    inside = (x / 50) ** 2 + (y / 65) ** 2 <= 1
    return x[inside], y[inside]


def face(step=2.0, offset=0.0):
    """Vertices (N, 3) of the face surface sampled on a grid (about 2,500 at 2 mm)."""
    x, y = _grid(step, offset)
    return np.stack([x, y, _face_z(x, y)], 1)


def rotation(axis, degrees):
    """Rodrigues' formula, written out independently of the module."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    a = math.radians(degrees)
    return np.eye(3) + math.sin(a) * kx + (1 - math.cos(a)) * kx @ kx


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def angle_deg(r):
    """Rotation angle of r."""
    return math.degrees(math.acos(np.clip((np.trace(r) - 1) / 2, -1, 1)))


def move(points, r, t):
    return points @ r.T + t


def nearest(src, dst):
    """Distance from each src point to the nearest dst point."""
    return cKDTree(dst).query(src)[0]


# ---- rigid_align --------------------------------------------------------------------------------

def test_rigid_align_recovers_random_motions(rng):
    for _ in range(5):
        src = rng.normal(size=(40, 3)) * [30, 20, 10]
        r, t = random_rotation(rng), rng.normal(size=3) * 50
        r_fit, t_fit = metrics.rigid_align(src, move(src, r, t))
        np.testing.assert_allclose(r_fit, r, atol=1e-12)
        np.testing.assert_allclose(t_fit, t, atol=1e-10)
        assert np.linalg.det(r_fit) == pytest.approx(1.0, abs=1e-12)


def test_rigid_align_weights(rng):
    src = rng.normal(size=(30, 3))
    r, t = random_rotation(rng), rng.normal(size=3)
    dst = move(src, r, t)
    dst[:10] += rng.normal(size=(10, 3)) * 5  # outliers
    w = np.r_[np.zeros(10), np.ones(20)]
    r_fit, t_fit = metrics.rigid_align(src, dst, weights=w)  # weight 0: ignored
    np.testing.assert_allclose(r_fit, r, atol=1e-12)
    np.testing.assert_allclose(t_fit, t, atol=1e-12)
    # Integer weights fit like repeated pairs.
    counts = rng.integers(1, 4, size=30)
    r_w, t_w = metrics.rigid_align(src, dst, weights=torch.tensor(counts, dtype=torch.float64))
    r_rep, t_rep = metrics.rigid_align(np.repeat(src, counts, 0), np.repeat(dst, counts, 0))
    np.testing.assert_allclose(r_w, r_rep, atol=1e-12)
    np.testing.assert_allclose(t_w, t_rep, atol=1e-12)


def test_rigid_align_is_proper_when_a_reflection_fits_better(rng):
    # All 8 sign flips of each point: the covariance is exactly diagonal with variances in the
    # order x > y > z. dst mirrors z; the best rotation then leaves the axis of least variance
    # mirrored, i.e. it is the identity (residual 2 * sum z^2), while the reflection fits exactly.
    base = rng.uniform(0.5, 1.0, size=(10, 3)) * [6, 3, 1]
    signs = np.array([[a, b, c] for a in (1, -1) for b in (1, -1) for c in (1, -1)])
    src = (base[:, None, :] * signs).reshape(-1, 3)
    dst = src * [1, 1, -1]
    r, t = metrics.rigid_align(src, dst)
    np.testing.assert_allclose(r, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(t, 0, atol=1e-12)
    residual = ((move(src, r, t) - dst) ** 2).sum()
    assert residual == pytest.approx(4 * (src[:, 2] ** 2).sum())
    # ... and no nearby rotation does better.
    for axis in np.eye(3):
        for deg in (-1, 1):
            assert ((move(src, rotation(axis, deg), t) - dst) ** 2).sum() > residual


# ---- icp ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("axis,degrees", [((0, 1, 0), 20), ((1, 0, 0), -15), ((0, 0, 1), 20),
                                          ((1, 2, -1), 20), ((-1, 1, 3), 10)])
def test_icp_recovers_motion_of_a_denser_noisy_prediction(rng, axis, degrees):
    gt = face()
    # Prediction: the surface sampled 4x as densely on another grid, 0.05 mm noise, moved.
    r, t = rotation(axis, degrees), np.array([8.0, -5.0, 12.0])
    dense = face(step=1.0, offset=0.5)
    dense += rng.normal(scale=0.05, size=dense.shape)
    pred = move(dense, r, t)
    r_fit, t_fit, info = metrics.icp(pred, gt)
    # gt ~= pred @ R.T + t  <=>  R = r^T, t = -r^T t
    assert angle_deg(r_fit @ r) < 0.05
    np.testing.assert_allclose(t_fit, -r.T @ t, atol=0.1)
    assert info["converged"] and info["iterations"] < 50
    # No GT vertex is sampled (they lie mid-way between 4 prediction vertices): the trimmed error
    # is at most that of the true alignment.
    assert info["error"] <= np.sqrt((nearest(gt, dense) ** 2).mean()) and info["overlap"] > 0.8


@pytest.mark.parametrize("method", ["plane", "point"])
def test_icp_exact_for_the_same_vertices(method):
    gt = face()
    r, t = rotation((1, -1, 2), 5), np.array([1.0, 2.0, -3.0])
    r_fit, t_fit, info = metrics.icp(move(gt, r, t), gt, method=method)
    np.testing.assert_allclose(r_fit, r.T, atol=1e-9)
    np.testing.assert_allclose(t_fit, -r.T @ t, atol=1e-7)
    assert info["converged"] and info["error"] < 1e-9


def test_icp_starts_from_init():
    gt = face()
    r, t = rotation((0, 1, 0), 90), np.array([100.0, 0, 0])
    pred = move(gt, r, t)
    r_fit, t_fit, info = metrics.icp(pred, gt, init=(r.T, -r.T @ t))
    assert info["iterations"] == 1 and info["error"] < 1e-9
    # max_iter bounds the iterations (90 degrees off needs more than 2).
    assert metrics.icp(pred, gt, max_iter=2)[2]["iterations"] == 2


# ---- nme ----------------------------------------------------------------------------------------

def test_nme_zero_for_a_rigidly_moved_ground_truth(rng):
    gt = face()
    # Every GT vertex plus a second, offset grid, shuffled, moved 20 degrees and 30 mm.
    pred = np.concatenate([gt, face(offset=1.0)])[rng.permutation(len(gt) + len(face(offset=1.0)))]
    pred = move(pred, rotation((1, 3, -2), 20), np.array([30.0, -10.0, 5.0]))
    assert metrics.nme(pred, gt, IO) < 1e-6
    assert metrics.nme(torch.from_numpy(pred).float(), torch.from_numpy(gt), IO) < 1e-6  # float32: ~1e-7


def test_nme_of_known_noise(rng):
    # Noise sigma along z, far below the 2 mm vertex spacing: each GT vertex's nearest prediction
    # vertex is its own noisy copy, at |noise|, whose mean is sigma * sqrt(2 / pi).
    gt = face()
    sigma = 0.1
    noise = rng.normal(scale=sigma, size=len(gt))
    pred = move(gt + noise[:, None] * [0, 0, 1], rotation((2, 1, 0), 10), np.array([3.0, 4.0, 5.0]))
    got = metrics.nme(pred, gt, IO)
    assert got == pytest.approx(np.abs(noise).mean() / IO, rel=0.02)
    assert got == pytest.approx(sigma * math.sqrt(2 / math.pi) / IO, rel=0.06)


def _solid(front, depth=40.0):
    """The front surface closed into a solid's isosurface as VRN predicts it: plus a flat back
    `depth` behind its lowest point, sampled 4x as densely as the front (so the centroid of the
    whole lies far behind the face), and side walls along the face's outline."""
    x, y = _grid(1.0, 0.25)
    z_back = front[:, 2].min() - depth
    back = np.stack([x, y, np.full_like(x, z_back)], 1)
    phi = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    ex, ey = 50 * np.cos(phi), 65 * np.sin(phi)
    walls = [np.stack([ex, ey, z_back + f * (_face_z(ex, ey) - z_back)], 1) for f in np.linspace(0, 1, 21)]
    return np.concatenate([front, back, *walls])


def test_nme_ignores_extra_back_surface():
    gt = face()
    pred = _solid(gt)
    assert len(pred) > 4 * len(gt)
    r, t = rotation((1, 1, 0), 4), np.array([2.0, -1.0, 1.5])  # VRN predicts in the GT's frame
    assert metrics.nme(move(pred, r, t), gt, IO) < 1e-6
    # The error of a translated prediction in that frame, without alignment, is large.
    assert nearest(gt, move(pred, r, t)).mean() / IO > 0.01


def test_half_face_is_penalised_and_its_half_still_aligned():
    gt = face()
    half = gt[gt[:, 0] < 0]  # the prediction misses the subject's right half
    r, t = rotation((0, 1, 1), 8), np.array([5.0, -4.0, 2.0])
    full_nme = metrics.nme(move(gt, r, t), gt, IO)
    half_nme = metrics.nme(move(half, r, t), gt, IO)
    # The error of the half put back where it belongs: GT vertices of the missing half cost their
    # distance to the half's edge.
    expected = nearest(gt, half).mean() / IO
    assert expected > 0.1
    assert half_nme == pytest.approx(expected, rel=1e-6)
    assert full_nme < 1e-6
    # icp itself (from the centroid-matched start) recovers the motion of the half ...
    r_fit, t_fit, info = metrics.icp(move(half, r, t), gt)
    np.testing.assert_allclose(r_fit, r.T, atol=1e-9)
    np.testing.assert_allclose(t_fit, -r.T @ t, atol=1e-7)
    # ... fitting about half of the GT vertices, with the half's own residual ~0.
    assert 0.45 < info["overlap"] < 0.6 and info["error"] < 1e-6
    assert nearest(move(move(half, r, t), r_fit, t_fit), gt).max() < 1e-6


def test_trimming_rule_keeps_inliers():
    # A fixed fraction of pairs: exactly the closest; "auto" on exact inliers plus far outliers
    # keeps exactly the inliers.
    d = np.r_[np.zeros(60), np.linspace(5, 10, 40)]
    keep, err, _ = metrics._trim(d, "auto")
    assert sorted(keep) == list(range(60)) and err == 0
    keep, err, _ = metrics._trim(d, 0.8)
    assert sorted(keep) == list(range(80))
    assert err == pytest.approx(np.sqrt((np.linspace(5, 10, 40)[:20] ** 2).sum() / 80))


# ---- landmarks ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dims", [2, 3])
def test_landmark_nme_and_interocular_distance(rng, dims):
    gt = rng.normal(size=(68, dims)) * 50
    pred = gt + rng.normal(size=(68, dims))
    io = metrics.interocular_distance(gt)
    assert io == pytest.approx(math.sqrt(sum((gt[36, k] - gt[45, k]) ** 2 for k in range(dims))), rel=1e-12)
    expected = np.mean([math.sqrt(((p - g) ** 2).sum()) for p, g in zip(pred, gt)]) / io
    assert metrics.landmark_nme(pred, gt, io) == pytest.approx(expected, rel=1e-12)
    assert metrics.landmark_nme(torch.from_numpy(pred), gt, io) == pytest.approx(expected, rel=1e-12)


# ---- validation ---------------------------------------------------------------------------------

_V = np.zeros((10, 3))
_V[:, 0] = np.arange(10)
_V[:, 1] = np.arange(10) ** 2


@pytest.mark.parametrize("call,exc,match", [
    (lambda: metrics.nme(np.zeros((10, 2)), _V, 1.0), ValueError, r"pred_verts must have shape \(N, 3\)"),
    (lambda: metrics.nme(_V, _V[None], 1.0), ValueError, r"gt_verts must have shape \(N, 3\)"),
    (lambda: metrics.nme(np.zeros((0, 3)), _V, 1.0), ValueError, "pred_verts needs at least 3"),
    (lambda: metrics.nme(_V, np.zeros((0, 3)), 1.0), ValueError, "gt_verts needs at least 3"),
    (lambda: metrics.nme(_V + [np.nan, 0, 0], _V, 1.0), ValueError, "pred_verts has non-finite"),
    (lambda: metrics.nme(_V, _V + [0, np.inf, 0], 1.0), ValueError, "gt_verts has non-finite"),
    (lambda: metrics.nme(_V.tolist(), _V, 1.0), TypeError, "pred_verts must be a numpy array"),
    (lambda: metrics.nme(_V.astype(complex), _V, 1.0), TypeError, "pred_verts must hold real numbers"),
    (lambda: metrics.nme(_V, _V, 0.0), ValueError, "interocular must be > 0"),
    (lambda: metrics.nme(_V, _V, -2), ValueError, "interocular must be > 0"),
    (lambda: metrics.nme(_V, _V, float("nan")), ValueError, "interocular must be finite"),
    (lambda: metrics.nme(_V, _V, "5"), TypeError, "interocular must be a real number"),
    (lambda: metrics.nme(_V, _V, None), TypeError, "interocular must be a real number"),
    (lambda: metrics.rigid_align(_V, _V[:5]), ValueError, "src .* and dst .* must have one shape"),
    (lambda: metrics.rigid_align(_V, _V, weights=-np.ones(10)), ValueError, "weights must be"),
    (lambda: metrics.rigid_align(_V, _V, weights=np.ones(3)), ValueError, r"weights must have shape \(10,\)"),
    (lambda: metrics.icp(_V, _V, trim=1.5), ValueError, "trim must be 'auto' or a fraction"),
    (lambda: metrics.icp(_V, _V, trim="median"), ValueError, "trim must be 'auto' or a fraction"),
    (lambda: metrics.icp(_V, _V, max_iter=0), ValueError, "max_iter must be an int >= 1"),
    (lambda: metrics.icp(_V, _V, method="affine"), ValueError, "method must be 'plane' or 'point'"),
    (lambda: metrics.icp(_V, _V, init=(2 * np.eye(3), np.zeros(3))), ValueError, "init's R must be"),
    (lambda: metrics.icp(_V, _V, init=(np.eye(3), np.zeros(2))), ValueError, "init must be a finite"),
    (lambda: metrics.landmark_nme(np.zeros((68, 2)), np.zeros((68, 3)), 1.0), ValueError,
     r"pred \(68, 2\) and gt \(68, 3\) must have one shape"),
    (lambda: metrics.landmark_nme(np.zeros((68, 4)), np.zeros((68, 4)), 1.0), ValueError,
     r"pred must have shape \(N, 2\|3\)"),
    (lambda: metrics.landmark_nme(np.zeros((68, 2)), np.zeros((68, 2)), 0), ValueError,
     "interocular must be > 0"),
    (lambda: metrics.interocular_distance(np.zeros((5, 2))), ValueError,
     r"landmarks must have shape \(68, 2\|3\)"),
    (lambda: metrics.interocular_distance(np.full((68, 3), np.nan)), ValueError, "landmarks has non-finite"),
])
def test_bad_inputs_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
