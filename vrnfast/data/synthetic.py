"""Procedural synthetic faces: the built-in dataset.

A head is a star-shaped surface r(theta, phi) about its centre: an ellipsoid with Gaussian bumps
(nose, chin, lips, brows, cheeks) and dents (eye sockets, the mouth), sizes and expression (mouth
open, smile) drawn per identity. It is meshed on a (theta, phi) grid (a closed surface), posed
(yaw in [-90, 90], pitch and roll in [-30, 30] degrees) and scaled into the image, and
vrnfast.voxelize turns it into its target volume. The image is rendered from that volume
(orthographic, as VRN's volumes are aligned with the image): the front-surface depth of each pixel,
normals from its gradient, an albedo by face region, Lambertian + ambient light, and a random
background. The 68 landmarks (iBUG semantics) are points of the same surface, so image, volume and
landmarks agree by construction. Sample i of seed s is always the same. As in VRN, the target is the face, not the skull: the
head's front half within the face's angular extent.

Head frame: x to the face's left (image right when frontal), y up, z backwards (the face looks
along -z). Volume frame: (x, y, z) = (w, h, d), image rows down, the camera looking along +d, so
the face's front is at its smallest d; depth is scaled like x and y.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ops.voxelize import voxelize

MOUTH_PHI = -0.33  # elevation of the mouth's centre line


@dataclass
class FaceParams:
    radii: np.ndarray       # (3,) ellipsoid half-axes (x, y, z) in head units
    bumps: np.ndarray       # (K, 5): theta, phi, width theta, width phi, height (< 0: a dent)
    eye: tuple              # (theta, phi) of the left eye's centre (the right one mirrors it)
    brow_phi: float
    mouth_open: float       # 0 (closed) .. 1
    smile: float            # -1 (corners down) .. 1 (up)
    angles: np.ndarray      # (3,) yaw, pitch, roll in degrees
    skin: np.ndarray        # (3,) albedo
    light: np.ndarray       # (3,) unit vector towards the light, volume frame
    ambient: float
    background: np.ndarray  # (2, 3) colours of the background gradient, top and bottom


def sample_params(rng: np.random.Generator) -> FaceParams:
    u = rng.uniform
    eye = (u(0.30, 0.38), u(0.20, 0.27))
    brow_phi = eye[1] + u(0.10, 0.14)
    bumps = [(0.0, u(-0.04, 0.04), u(0.10, 0.15), u(0.20, 0.26), u(0.18, 0.28)),   # nose
             (0.0, u(-0.62, -0.55), u(0.35, 0.50), u(0.12, 0.18), u(0.06, 0.12)),  # chin
             (0.0, MOUTH_PHI, u(0.22, 0.30), u(0.05, 0.07), u(0.03, 0.06))]       # lips
    for side in (-1.0, 1.0):
        bumps += [(side * eye[0], brow_phi, u(0.14, 0.20), u(0.04, 0.06), u(0.04, 0.07)),  # brow
                  (side * eye[0], eye[1], u(0.09, 0.12), u(0.06, 0.08), -u(0.05, 0.08)),   # eye socket
                  (side * u(0.45, 0.55), u(-0.10, 0.0), u(0.18, 0.25), u(0.14, 0.20), u(0.03, 0.06))]  # cheek
    light = np.array([u(-0.6, 0.6), u(-0.6, 0.3), -1.0])
    return FaceParams(radii=np.array([u(0.78, 0.92), u(1.0, 1.15), u(0.85, 1.0)]), bumps=np.array(bumps),
                      eye=eye, brow_phi=brow_phi, mouth_open=float(u(0, 1) ** 2), smile=float(u(-1, 1)),
                      angles=np.array([u(-90, 90), u(-30, 30), u(-30, 30)]),
                      skin=np.array([u(0.55, 0.95), u(0.40, 0.75), u(0.30, 0.65)]),
                      light=light / np.linalg.norm(light), ambient=float(u(0.25, 0.45)),
                      background=rng.uniform(0, 1, (2, 3)))


def _gauss(theta, phi, t0, p0, wt, wp):
    return np.exp(-0.5 * (((theta - t0) / wt) ** 2 + ((phi - p0) / wp) ** 2))


def _mouth_phi(p, theta):
    return MOUTH_PHI + 0.06 * p.smile * np.minimum((theta / 0.25) ** 2, 1.5)


def head_radius(p: FaceParams, theta, phi):
    """Distance from the head's centre to its surface in direction (theta, phi), and the unit
    direction (x, y, z) in the head frame (theta 0 looks along -z; theta > 0 towards +x)."""
    theta, phi = np.asarray(theta, float), np.asarray(phi, float)
    d = np.stack([np.cos(phi) * np.sin(theta), np.sin(phi), -np.cos(phi) * np.cos(theta)], -1)
    r = 1.0 / np.sqrt(((d / p.radii) ** 2).sum(-1))
    for t0, p0, wt, wp, h in p.bumps:
        r = r + h * _gauss(theta, phi, t0, p0, wt, wp)
    # the mouth: a groove that deepens and widens as it opens
    groove = np.exp(-0.5 * ((theta / 0.22) ** 2 + ((phi - _mouth_phi(p, theta)) / (0.012 + 0.05 * p.mouth_open)) ** 2))
    return r - (0.02 + 0.12 * p.mouth_open) * groove, d


def landmark_angles(p: FaceParams) -> np.ndarray:
    """(68, 2) theta, phi of the iBUG-68 landmarks on the head. iBUG numbers the subject's right
    side first (image left when frontal), i.e. theta < 0 here."""
    et, ep = p.eye
    pts = [(t, -0.15 - 0.45 * math.cos(t / 1.4 * math.pi / 2) ** 1.5) for t in np.linspace(-1.4, 1.4, 17)]  # jaw
    for side in (-1.0, 1.0):  # brows, each from the outer end inwards... iBUG runs 17 -> 26 left to right
        ts = np.linspace(et + 0.17, et - 0.15, 5) if side < 0 else np.linspace(et - 0.15, et + 0.17, 5)
        pts += [(side * t, p.brow_phi + 0.02 * math.sin(math.pi * (k + 0.5) / 5)) for k, t in enumerate(ts)]
    pts += [(0.0, 0.18 - 0.07 * k) for k in range(4)]  # nose ridge, top to tip
    pts += [(t, -0.12 + (0.02 if abs(t) > 0.1 else 0.0)) for t in (-0.12, -0.06, 0.0, 0.06, 0.12)]  # nostrils
    # eyes, image left to right: outer corner, two upper lid points, inner corner, two lower lid points
    ring = [(-0.09, 0.0), (-0.04, 0.03), (0.03, 0.03), (0.08, 0.0), (0.03, -0.03), (-0.04, -0.03)]
    pts += [(-et + dt, ep + dp) for dt, dp in ring]  # subject's right eye: outer corner (36) first
    # subject's left eye: inner corner (42) first, the mirror image of the right eye (IBUG68_MIRROR)
    pts += [(et - dt, ep + dp) for dt, dp in (ring[k] for k in (3, 2, 1, 0, 5, 4))]
    gap = 0.015 + 0.06 * p.mouth_open
    outer = [(-0.2, 0.0), (-0.12, 0.03), (-0.05, 0.045), (0.0, 0.04), (0.05, 0.045), (0.12, 0.03), (0.2, 0.0),
             (0.12, -0.03 - gap), (0.05, -0.045 - gap), (0.0, -0.05 - gap), (-0.05, -0.045 - gap), (-0.12, -0.03 - gap)]
    inner = [(-0.16, 0.0), (-0.05, 0.012), (0.0, 0.012), (0.05, 0.012), (0.16, 0.0),
             (0.05, -0.012 - gap), (0.0, -0.012 - gap), (-0.05, -0.012 - gap)]
    pts += [(t, float(_mouth_phi(p, t)) + dp) for t, dp in outer + inner]
    return np.array(pts)


def head_mesh(p: FaceParams, n_theta=96, n_phi=48):
    """A closed triangle mesh of the head: a (theta, phi) grid plus a vertex at each pole."""
    theta = np.linspace(-np.pi, np.pi, n_theta, endpoint=False)
    phi = np.linspace(-np.pi / 2, np.pi / 2, n_phi + 2)[1:-1]
    tt, pp = np.meshgrid(theta, phi)  # (n_phi, n_theta)
    r, d = head_radius(p, np.concatenate([tt.ravel(), [0.0, 0.0]]), np.concatenate([pp.ravel(), [-np.pi / 2, np.pi / 2]]))
    verts = r[:, None] * d
    idx = np.arange(n_phi * n_theta).reshape(n_phi, n_theta)
    a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
    c, e = idx[1:], np.roll(idx[1:], -1, axis=1)
    quads = np.concatenate([np.stack([a, b, e], -1).reshape(-1, 3), np.stack([a, e, c], -1).reshape(-1, 3)])
    south, north = n_phi * n_theta, n_phi * n_theta + 1
    ring0, ring1 = idx[0], idx[-1]
    fans = [np.stack([np.full(n_theta, south), np.roll(ring0, -1), ring0], -1),
            np.stack([np.full(n_theta, north), ring1, np.roll(ring1, -1)], -1)]
    return verts, np.concatenate([quads, *fans]).astype(np.int64)


def rotation(angles):
    """Yaw about y, then pitch about x, then roll about z (degrees), as a 3x3 matrix."""
    y, x, z = np.deg2rad(angles)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]])
    rz = np.array([[math.cos(z), -math.sin(z), 0], [math.sin(z), math.cos(z), 0], [0, 0, 1]])
    return rz @ rx @ ry


def _to_volume(points, rot, size, depth):
    """Head-frame points -> volume (x, y, z) = (w, h, d): rotate, scale, flip y to image rows."""
    scale = 0.34 * size
    q = points @ rot.T
    return np.stack([(size - 1) / 2 + scale * q[:, 0], (size - 1) / 2 - scale * q[:, 1],
                     (depth - 1) / 2 + scale * q[:, 2]], -1)


def _box_blur(a, r, passes=3):
    """Separable box filter of radius r, repeated (close to a Gaussian); edges clamped."""
    for _ in range(passes):
        for axis in (0, 1):
            pad = [(0, 0), (0, 0)]
            pad[axis] = (r + 1, r)
            c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis)
            a = (np.take(c, range(2 * r + 1, c.shape[axis]), axis=axis)
                 - np.take(c, range(0, c.shape[axis] - 2 * r - 1), axis=axis)) / (2 * r + 1)
    return a


def render(p: FaceParams, volume: np.ndarray, rot) -> np.ndarray:
    """(3, S, S) uint8 image of the volume's front surface, lit and coloured."""
    depth, size, _ = volume.shape
    hit = volume.any(axis=0)
    z = np.where(hit, volume.argmax(axis=0), depth).astype(np.float64)  # front-surface depth per pixel
    # normals from the depth smoothed a little: the voxel depth is integer, its raw gradient terraced
    far = z[hit].max() if hit.any() else 0.0
    gy, gx = np.gradient(_box_blur(np.where(hit, z, far), max(1, size // 48)))
    normal = np.stack([-gx, -gy, -np.ones_like(gx)], -1)  # image frame (x, y down, z away)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    light = p.light * np.array([1.0, -1.0, 1.0])  # head light direction in image rows
    lambert = np.clip(normal @ light, 0.0, 1.0)
    # back to the head frame to find each pixel's face region
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    scale = 0.34 * size
    q = np.stack([(xs - (size - 1) / 2) / scale, -(ys - (size - 1) / 2) / scale, (z - (depth - 1) / 2) / scale], -1)
    h = q @ rot  # inverse rotation (rot is orthonormal)
    theta = np.arctan2(h[..., 0], -h[..., 2])
    phi = np.arctan2(h[..., 1], np.hypot(h[..., 0], h[..., 2]))
    albedo = np.broadcast_to(p.skin, (size, size, 3)).copy()
    lips = np.exp(-0.5 * ((theta / 0.2) ** 2 + ((phi - _mouth_phi(p, theta)) / (0.035 + 0.03 * p.mouth_open)) ** 2))
    brows = sum(_gauss(theta, phi, s * p.eye[0], p.brow_phi, 0.15, 0.025) for s in (-1, 1))
    eyes = sum(_gauss(theta, phi, s * p.eye[0], p.eye[1], 0.06, 0.025) for s in (-1, 1))
    for w, colour in ((lips, (0.75, 0.25, 0.3)), (brows, (0.2, 0.15, 0.1)), (eyes, (0.1, 0.08, 0.08))):
        albedo = albedo * (1 - w[..., None]) + np.array(colour) * w[..., None]
    shade = albedo * (p.ambient + (1 - p.ambient) * lambert[..., None])
    t = np.linspace(0, 1, size)[:, None, None]
    background = p.background[0] * (1 - t) + p.background[1] * t
    image = np.where(hit[..., None], shade, background)
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8).transpose(2, 0, 1)


FACE_THETA, FACE_PHI = 1.45, (-0.95, 0.8)  # the face's angular extent: past the jaw, forehead to chin


def _keep_face(volume, rot):
    """Keeps the face of the head solid, as VRN's targets hold the face, not the skull: the head's
    front half (head-frame z <= 0) within the face's angular extent. In place."""
    depth, size, _ = volume.shape
    d, h, w = np.nonzero(volume)
    scale = 0.34 * size
    q = np.stack([(w - (size - 1) / 2) / scale, -(h - (size - 1) / 2) / scale, (d - (depth - 1) / 2) / scale], -1)
    hx, hy, hz = (q @ rot).T  # back to the head frame
    theta, phi = np.arctan2(hx, -hz), np.arctan2(hy, np.hypot(hx, hz))
    drop = (hz > 0) | (np.abs(theta) > FACE_THETA) | (phi < FACE_PHI[0]) | (phi > FACE_PHI[1])
    volume[d[drop], h[drop], w[drop]] = 0


def face_surface(p: FaceParams, rot, size, depth, spacing=1.0) -> np.ndarray:
    """(N, 3) float32 points of the face's surface (the front of the head within the face's
    extent, as _keep_face keeps it) in the volume's (x, y, z), about `spacing` voxels apart: the
    ground truth of the NME, as the fitted face mesh is for real data."""
    scale = 0.34 * size
    n_phi = int(np.ceil((FACE_PHI[1] - FACE_PHI[0]) * 1.2 * scale / spacing))
    n_theta = int(np.ceil(2 * FACE_THETA * 1.2 * scale / spacing))
    tt, pp = np.meshgrid(np.linspace(-FACE_THETA, FACE_THETA, n_theta), np.linspace(*FACE_PHI, n_phi))
    r, d = head_radius(p, tt.ravel(), pp.ravel())
    pts = r[:, None] * d
    return _to_volume(pts[pts[:, 2] <= 0], rot, size, depth).astype(np.float32)


def synthetic_sample(index: int, seed: int = 0, size: int = 64, depth: int = 64, with_face=False) -> dict:
    """Sample `index` of `seed`: image (3, S, S) uint8, volume (D, S, S) uint8, landmarks (68, 3)
    float32 in the volume's (x, y, z), pose (3,) yaw, pitch, roll in degrees, params (FaceParams);
    with_face: also face_verts, the face_surface() points."""
    if index < 0 or size < 8 or depth < 8:
        raise ValueError(f"need index >= 0 and size, depth >= 8; got {index}, {size}, {depth}")
    p = sample_params(np.random.default_rng([seed, index]))
    rot = rotation(p.angles)
    n_theta = max(48, min(256, size))
    verts, faces = head_mesh(p, n_theta=n_theta, n_phi=n_theta // 2)
    volume = voxelize(_to_volume(verts, rot, size, depth).astype(np.float32), faces, (depth, size, size))
    _keep_face(volume, rot)
    ang = landmark_angles(p)
    r, d = head_radius(p, ang[:, 0], ang[:, 1])
    landmarks = _to_volume(r[:, None] * d, rot, size, depth).astype(np.float32)
    sample = {"image": render(p, volume, rot), "volume": volume, "landmarks": landmarks,
              "pose": p.angles.astype(np.float32), "params": p, "name": f"synth-{seed}-{index}"}
    if with_face:
        sample["face_verts"] = face_surface(p, rot, size, depth)
    return sample
