"""Evaluation metrics (numpy in, float out): the volumetric IoU, the paper's 3-D reconstruction
error (nme: ICP alignment, then the per-vertex distance over the interocular distance) and the
landmark error."""
from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from . import _backend as B


def iou(pred_volume, gt_volume, level=0.5) -> float:
    """Intersection over union of the voxels > level in two volumes of the same shape (1.0 when
    both are empty)."""
    p = np.asarray(B.to_numpy(pred_volume, B.array_kind(pred_volume, "pred_volume"))) > level
    g = np.asarray(B.to_numpy(gt_volume, B.array_kind(gt_volume, "gt_volume"))) > level
    if p.shape != g.shape:
        raise ValueError(f"pred_volume {p.shape} and gt_volume {g.shape} must have one shape")
    union = np.count_nonzero(p | g)
    return 1.0 if union == 0 else np.count_nonzero(p & g) / union


# ---- 3-D reconstruction error (the paper's NME) -------------------------------------------------
#
# Conventions: point sets are (N, 3) float arrays (numpy or torch, converted to float64 numpy);
# a rigid motion (R, t) maps row vectors p to p @ R.T + t, R a proper rotation (det +1).

_MIN_OVERLAP = 0.3  # smallest fraction of ground-truth vertices trim="auto" may keep
_LAMBDA = 2.0  # TrICP's overlap penalty: minimise mse(xi) / xi**(1 + _LAMBDA) (Chetverikov et al.)


def _points(x, name: str, cols=(3,), min_rows: int = 1) -> np.ndarray:
    """x as a float64 (N, c) numpy copy, c in cols, N >= min_rows, all finite."""
    a = np.asarray(B.as_numpy(x, name))
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] not in cols:
        want = "|".join(str(c) for c in cols)
        raise ValueError(f"{name} must have shape (N, {want}), got {a.shape}")
    if a.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} point(s), got {a.shape[0]}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has non-finite values")
    return a


def _positive(value, name: str) -> float:
    if isinstance(value, (str, bytes, bool)):  # float() would take "5" and True
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = B.check_finite(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _weights(weights, n: int) -> np.ndarray:
    """Per-pair weights normalised to sum 1 (uniform when None)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    if B.is_torch(weights) or B.is_cupy(weights):
        weights = B.to_numpy(weights, B.array_kind(weights, "weights"))
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"weights must be {n} real numbers, got {type(weights).__name__}") from None
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be finite, >= 0 and not all 0")
    return w / w.sum()


def _kabsch(src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None):
    """(R, t) minimising sum w_i |R src_i + t - dst_i|^2 over proper rotations; w sums to 1."""
    cs = src.mean(0) if w is None else w @ src
    cd = dst.mean(0) if w is None else w @ dst
    dd = dst - cd
    h = (src - cs).T @ (dd if w is None else dd * w[:, None])
    u, _, vt = np.linalg.svd(h)
    # The unconstrained optimum V U^T may be a reflection; flipping the axis of the smallest
    # singular value gives the best proper rotation instead (Umeyama 1991).
    d = -1.0 if np.linalg.det(vt.T @ u.T) < 0 else 1.0
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, cd - r @ cs


def rigid_align(src, dst, weights=None):
    """The least-squares rigid motion taking src onto dst: dst ~= src @ R.T + t.

    src, dst: (N, 3) corresponding points; weights: optional (N,) non-negative per-pair weights.
    Returns (R, t), R a (3, 3) proper rotation (det +1, even when a reflection would fit better),
    t a (3,) translation, minimising sum_i w_i |R @ src_i + t - dst_i|^2 (Kabsch's SVD solution).
    The rotation is not unique when the points (of non-zero weight) are fewer than 3 or collinear.
    """
    src = _points(src, "src")
    dst = _points(dst, "dst")
    if src.shape != dst.shape:
        raise ValueError(f"src {src.shape} and dst {dst.shape} must have one shape")
    return _kabsch(src, dst, _weights(weights, len(src)))


def _workers(queries):
    """cKDTree.query starts its worker threads on every call (~1 ms each): only worth it for
    large queries."""
    return -1 if queries > 50_000 else 1


def _match(tree, gt: np.ndarray, r: np.ndarray, t: np.ndarray):
    """For each GT vertex, its distance to and index of the nearest prediction vertex once the
    prediction is moved by (r, t). The tree holds the unmoved prediction, so the GT is moved by
    the inverse motion instead: distances are the same and the tree is never rebuilt."""
    return tree.query((gt - t) @ r, workers=_workers(len(gt)))


def _trim(dist: np.ndarray, trim):
    """The pairs ICP fits: indices of the kept (closest) pairs, their RMS distance, and the
    objective that compares alignments (the kept MSE, divided by xi**(1 + lambda) for "auto")."""
    n = len(dist)
    order = np.argsort(dist)
    mse = np.cumsum(dist[order] ** 2) / np.arange(1, n + 1)
    if trim == "auto":
        # Chetverikov et al.'s TrICP overlap: the fraction xi minimising mse(xi) / xi**(1 + lambda).
        # Dropping pairs lowers the MSE, the penalty stops it from dropping inliers: pairs are cut
        # where the distances jump (vertices with no counterpart), and on noise only the far tail.
        lo = min(n, max(3, math.ceil(_MIN_OVERLAP * n - 1e-9)))
        xi = np.arange(lo, n + 1) / n
        psi = mse[lo - 1:] / xi ** (1.0 + _LAMBDA)
        k = n - int(np.argmin(psi[::-1]))  # the largest minimiser: keep ties
        objective = float(psi[k - lo])
    else:
        k = min(n, max(3, math.ceil(trim * n - 1e-9)))  # 0.7 * 100 is 70.00000000000001
        objective = float(mse[k - 1])
    return order[:k], math.sqrt(mse[k - 1]), objective


def _normals(tree, pred: np.ndarray, k: int = 10) -> np.ndarray:
    """Unit normals of the prediction's surface at its vertices: the least-variance axis of each
    vertex's k nearest vertices. Their sign is arbitrary: point-to-plane needs only the plane."""
    _, nb = tree.query(pred, k=min(k, len(pred)), workers=_workers(len(pred) * k))
    q = pred[nb] - pred[nb].mean(1, keepdims=True)
    _, vecs = np.linalg.eigh(np.einsum("nki,nkj->nij", q, q))
    return vecs[:, :, 0]


def _rotvec_matrix(w: np.ndarray) -> np.ndarray:
    """Rodrigues: the rotation by |w| radians about w."""
    angle = float(np.linalg.norm(w))
    if angle == 0.0:
        return np.eye(3)
    k = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]]) / angle
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _plane_step(p, n, g, r, t):
    """One Gauss-Newton step of point-to-plane ICP (Chen & Medioni 1991): the motion (r, t) of
    prediction vertices p (normals n) updated to reduce sum(((p @ r.T + t - g) . n')^2), n' the
    moved normals, linearising the rotation update. Solved about the centroid of g in units of
    its RMS radius, so that rotation and translation columns are comparable and the cut-off of
    ill-determined directions (sliding along a flat or round surface) is scale-free."""
    c = g.mean(0)
    s = float(np.sqrt(((g - c) ** 2).sum(1).mean())) or 1.0
    q = (p @ r.T + t - c) / s
    nn = n @ r.T
    a = np.concatenate([np.cross(q, nn), nn], 1)
    b = -((q - (g - c) / s) * nn).sum(1)
    x = np.linalg.lstsq(a, b, rcond=1e-6)[0]
    dr = _rotvec_matrix(x[:3])
    return dr @ r, dr @ (t - c) + c + s * x[3:]


def _icp(tree, pred, gt, r, t, max_iter: int, tol: float, trim, normals=None):
    """ICP from (r, t); point-to-plane with the prediction's normals, point-to-point without."""
    dist, idx = _match(tree, gt, r, t)
    keep, err, objective = _trim(dist, trim)
    # Errors this far below the GT's size are round-off: the fit is exact.
    radius = float(np.sqrt(((gt - gt.mean(0)) ** 2).sum(1).mean()))
    floor = 1e-12 * radius
    it, converged = 0, False
    best = (objective, r, t, keep, err)
    while it < max_iter and not converged:
        it += 1
        j = idx[keep]
        r_old, t_old = r, t
        if normals is None:
            # The pairs join original prediction vertices to GT vertices: Kabsch gives the whole
            # motion, not an increment.
            r, t = _kabsch(pred[j], gt[keep])
        else:
            r, t = _plane_step(pred[j], normals[j], gt[keep], r, t)
        dist, idx = _match(tree, gt, r, t)
        keep, new_err, objective = _trim(dist, trim)
        # converged: the error settles, or the motion does (the trimmed pair set may keep
        # switching a few pairs near the cut, so the error alone can wander at the tol level);
        # the step is measured by how far it moves points at the GT's radius
        step = np.linalg.norm(r - r_old) * radius + np.linalg.norm((t - t_old) + (r - r_old) @ gt.mean(0))
        converged = abs(err - new_err) <= tol * err or new_err <= floor or step <= tol * radius
        err = new_err
        # A point-to-plane step may raise the objective a little on the way to a better minimum,
        # or, where its linearisation is poorly conditioned (a small or flat prediction), run
        # away: then the search ends and the best motion seen is returned.
        if objective < best[0]:
            best = (objective, r, t, keep, err)
        elif objective > 4 * best[0]:
            objective, r, t, keep, err = best
            break
    info = {"iterations": it, "converged": converged, "error": err,
            "overlap": len(keep) / len(gt), "objective": objective}
    return r, t, info


def _check_init(init):
    try:
        r, t = init
        r = np.asarray(r, dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("init must be a pair (R, t) of a (3, 3) rotation and a (3,) translation") from None
    if r.shape != (3, 3) or t.shape != (3,) or not (np.isfinite(r).all() and np.isfinite(t).all()):
        raise ValueError(f"init must be a finite (3, 3) R and (3,) t, got shapes {r.shape}, {t.shape}")
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
        raise ValueError("init's R must be a proper rotation (orthonormal, det +1)")
    return r, t


def _check_icp_args(max_iter, tol, trim, method):
    if not isinstance(max_iter, (int, np.integer)) or isinstance(max_iter, bool) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
    if B.check_finite(tol, "tol") < 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    if method not in ("plane", "point"):
        raise ValueError(f"method must be 'plane' or 'point', got {method!r}")
    if isinstance(trim, str):
        if trim != "auto":
            raise ValueError(f"trim must be 'auto' or a fraction in (0, 1], got {trim!r}")
        return trim
    trim = B.check_finite(trim, "trim")
    if not 0 < trim <= 1:
        raise ValueError(f"trim must be 'auto' or a fraction in (0, 1], got {trim!r}")
    return trim


def icp(pred_verts, gt_verts, max_iter=50, tol=1e-6, trim="auto", init=None, method="plane"):
    """Rigid ICP moving the predicted vertices onto the ground truth: gt ~= pred @ R.T + t.

    Each iteration pairs every GT vertex with its nearest vertex of the moved prediction and
    refits (R, t) on the closest pairs only (trimmed ICP), so that GT vertices with no
    counterpart in the prediction (a partial prediction) do not drag it; prediction vertices that
    no GT vertex picks (VRN's isosurface also has back and side surfaces the GT face lacks) take
    no part anyway.

    method: how (R, t) is refitted to the pairs.
        "plane" (default): point-to-plane (Chen & Medioni), the distance of each GT vertex to the
        tangent plane of its prediction vertex (normals from the prediction's 10 nearest
        neighbours), one linearised step per iteration. Two samplings of one surface do not
        coincide, so point-to-point pairs pin the prediction to the GT's vertex grid: on a
        face-like patch moved 10-40 degrees, point-to-point stalled in such a minimum in 20-85%
        of trials, point-to-plane converged exactly in all, in 4-5 iterations; with half the
        face missing, point-to-point stalled where point-to-plane converged.
        "point": point-to-point, rigid_align (Kabsch) of the pairs.
    trim: "auto" (default): keep the closest fraction xi in [0.3, 1] of pairs that minimises
        mse(xi) / xi**3 (Chetverikov et al., "Robust Euclidean alignment of 3D point sets: the
        trimmed ICP", 2005, lambda = 2), mse(xi) the mean squared distance of the kept pairs.
        A fixed quantile would have to know the overlap: 0.9 lets the 50% unmatched GT of a half
        prediction drag it, 0.5 throws half the data of a full one away. The criterion finds the
        overlap from the data: it keeps pairs up to where the sorted distances jump (a half
        prediction keeps about half), and on noisy full overlap cuts only the far tail (15% of
        pairs for 1-D Gaussian offsets along the normal, 1% for isotropic 3-D Gaussian noise).
        A number in (0, 1]: keep that fixed fraction of the closest pairs (1: plain ICP).
    init: (R, t) to start from; default: the identity with the centroids matched. Extra surface
        moves the prediction's centroid away from the face, so for such predictions start from
        a motion close to the answer (nme also tries the identity: VRN predicts in the GT frame).
    Stops when the trimmed error changes by less than tol relative to it, or after max_iter.

    Returns (R, t, info); info: iterations, converged (bool), error (RMS distance of the kept
    pairs at the returned motion), overlap (their fraction of the GT vertices), objective (what
    the trimming minimises; lower is a better alignment of the same GT).
    """
    pred = _points(pred_verts, "pred_verts", min_rows=3)
    gt = _points(gt_verts, "gt_verts", min_rows=3)
    trim = _check_icp_args(max_iter, tol, trim, method)
    if init is None:
        r, t = np.eye(3), gt.mean(0) - pred.mean(0)
    else:
        r, t = _check_init(init)
    tree = cKDTree(pred)
    normals = _normals(tree, pred) if method == "plane" else None
    return _icp(tree, pred, gt, r, t, int(max_iter), float(tol), trim, normals)


ICP_FIT_POINTS = 4096


def nme(pred_verts, gt_verts, interocular) -> float:
    """The paper's 3-D reconstruction error: the prediction is aligned onto the ground truth by
    rigid ICP (icp's defaults: trimmed, point-to-plane), then the distance from each GT vertex to
    the nearest aligned prediction vertex is averaged over all GT vertices and divided by
    `interocular`, the 3-D outer interocular distance (landmarks 36 and 45, see
    interocular_distance).

    pred_verts (N, 3), gt_verts (M, 3): vertices in one unit (numpy arrays or torch tensors),
    N and M independent. Only the GT's vertices count: surface the prediction has and the GT
    lacks costs nothing, GT the prediction misses costs its distance to the nearest prediction.
    ICP starts from both the identity (VRN predicts in the GT's frame, where extra back surface
    cannot mislead the start) and the centroid-matched identity; the alignment with the lower
    trimmed objective is kept.
    """
    pred = _points(pred_verts, "pred_verts", min_rows=3)
    gt = _points(gt_verts, "gt_verts", min_rows=3)
    io = _positive(interocular, "interocular")
    tree = cKDTree(pred)
    normals = _normals(tree, pred)
    # the alignment is fitted on at most ICP_FIT_POINTS evenly spread GT vertices (six rigid
    # parameters need far fewer; the paper-size GT has ~30k), the error measured on all of them
    fit_gt = gt[::-(-len(gt) // ICP_FIT_POINTS)]
    starts = [(np.eye(3), np.zeros(3)), (np.eye(3), fit_gt.mean(0) - pred.mean(0))]
    fits = [_icp(tree, pred, fit_gt, r, t, 50, 1e-6, "auto", normals) for r, t in starts]
    r, t, _ = min(fits, key=lambda fit: fit[2]["objective"])
    dist, _ = _match(tree, gt, r, t)
    return float(dist.mean() / io)


# ---- landmarks ------------------------------------------------------------------------------------

def interocular_distance(landmarks) -> float:
    """||lm[36] - lm[45]||: the outer eye corners of 68 iBUG landmarks (68, 2) or (68, 3)."""
    lm = _points(landmarks, "landmarks", cols=(2, 3))
    if lm.shape[0] != 68:
        raise ValueError(f"landmarks must have shape (68, 2|3), got {lm.shape}")
    return float(np.linalg.norm(lm[36] - lm[45]))


def landmark_nme(pred, gt, interocular) -> float:
    """Mean over landmarks of the Euclidean distance between pred and gt (same shape (L, 2|3)),
    divided by interocular; no alignment."""
    p = _points(pred, "pred", cols=(2, 3))
    g = _points(gt, "gt", cols=(2, 3))
    if p.shape != g.shape:
        raise ValueError(f"pred {p.shape} and gt {g.shape} must have one shape")
    io = _positive(interocular, "interocular")
    return float(np.linalg.norm(p - g, axis=1).mean() / io)
