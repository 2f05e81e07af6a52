"""The synthetic face generator: determinism, and image / volume / landmarks agreeing."""
import struct
import zlib

import numpy as np
import pytest

from vrnfast.data.synthetic import synthetic_sample
from vrnfast.io import save_png


def test_sample_i_of_seed_s_is_always_the_same():
    a, b = synthetic_sample(3, seed=7), synthetic_sample(3, seed=7)
    for key in ("image", "volume", "landmarks"):
        assert np.array_equal(a[key], b[key])
    c = synthetic_sample(4, seed=7)
    assert not np.array_equal(a["volume"], c["volume"])
    assert not np.array_equal(a["image"], synthetic_sample(3, seed=8)["image"])


def test_shapes_dtypes_and_pose_ranges():
    angles = []
    for i in range(20):
        s = synthetic_sample(i, seed=1, size=32, depth=40)
        assert s["image"].shape == (3, 32, 32) and s["image"].dtype == np.uint8
        assert s["volume"].shape == (40, 32, 32) and s["volume"].dtype == np.uint8
        assert s["landmarks"].shape == (68, 3) and s["landmarks"].dtype == np.float32
        assert 0.02 < s["volume"].mean() < 0.5  # a head, inside the volume
        angles.append(s["params"].angles)
    angles = np.array(angles)
    assert np.abs(angles[:, 0]).max() <= 90 and np.abs(angles[:, 1:]).max() <= 30
    assert angles[:, 0].min() < -45 and angles[:, 0].max() > 45  # large poses do occur


@pytest.mark.parametrize("index", range(6))
def test_landmarks_lie_on_the_volume_surface(index):
    s = synthetic_sample(index, seed=2, size=96, depth=96)
    vol = np.pad(s["volume"], 2)
    for x, y, z in s["landmarks"] + 2:
        iz, iy, ix = int(round(z)), int(round(y)), int(round(x))
        block = vol[iz - 1:iz + 2, iy - 1:iy + 2, ix - 1:ix + 2]
        assert block.min() == 0 and block.max() == 1, (index, x, y, z)  # both inside and outside nearby


def test_image_is_rendered_from_the_volume():
    s = synthetic_sample(5, seed=3, size=64, depth=64)
    p = s["params"]
    silhouette = s["volume"].any(axis=0)
    t = np.linspace(0, 1, 64)[:, None, None]
    background = np.clip(np.rint((p.background[0] * (1 - t) + p.background[1] * t) * 255), 0, 255)
    image = s["image"].transpose(1, 2, 0).astype(float)
    assert np.array_equal(image[~silhouette], np.broadcast_to(background, image.shape)[~silhouette])
    differs = np.abs(image - background).sum(-1) > 0
    assert differs[silhouette].mean() > 0.95


def test_frontal_nose_tip_is_the_front_surface():
    for i in range(200):  # find a near-frontal sample
        s = synthetic_sample(i, seed=4, size=96, depth=96)
        if abs(s["params"].angles[0]) < 15 and abs(s["params"].angles[1]) < 10:
            break
    x, y, z = s["landmarks"][30]
    column = s["volume"][:, int(round(y)), int(round(x))]
    assert column.any() and abs(column.argmax() - z) <= 1.5
    # and it is nearer the camera than the eye corners (smaller depth)
    assert z < s["landmarks"][36, 2] and z < s["landmarks"][45, 2]


def test_landmarks_have_ibug_semantics_under_any_yaw():
    """iBUG numbers the subject's right side first: image left to right on a frontal face; under
    yaw the side turned toward the camera is the nearer (smaller depth)."""
    seen = set()
    for i in range(60):
        s = synthetic_sample(i, seed=7, size=64, depth=64)
        yaw, pitch, roll = s["params"].angles
        lm = s["landmarks"]
        if abs(roll) < 20 and abs(yaw) < 40:  # left-to-right order in the image
            assert lm[36, 0] < lm[39, 0] < lm[42, 0] < lm[45, 0]  # eye corners
            assert lm[48, 0] < lm[51, 0] < lm[54, 0]
            if abs(roll) < 10:  # the jaw runs far below the centre of roll
                assert lm[0, 0] < lm[8, 0] < lm[16, 0]
            seen.add("0")
        if abs(roll) < 20 and abs(pitch) < 20:  # brows above eyes above nose tip above mouth above chin
            assert lm[19, 1] < lm[37, 1] < lm[33, 1] < lm[62, 1] < lm[8, 1]
        if yaw > 30:  # turned to show its left side: the left eye's corner is nearer the camera
            assert lm[45, 2] < lm[36, 2] and lm[16, 2] < lm[0, 2]
            seen.add("+")
        elif yaw < -30:
            assert lm[36, 2] < lm[45, 2] and lm[0, 2] < lm[16, 2]
            seen.add("-")
    assert seen == {"0", "+", "-"}


def test_landmarks_mirror_with_the_ibug_map():
    """Landmark i of a face is the mirror image of landmark IBUG68_MIRROR[i] (head frame: theta
    negated, phi kept), the map that flip augmentation applies."""
    from vrnfast.training.augmentation import IBUG68_MIRROR
    from vrnfast.data.synthetic import landmark_angles, sample_params

    for k in range(5):
        a = landmark_angles(sample_params(np.random.default_rng([3, k])))
        np.testing.assert_allclose(a[list(IBUG68_MIRROR), 0], -a[:, 0], atol=1e-12)
        np.testing.assert_allclose(a[list(IBUG68_MIRROR), 1], a[:, 1], atol=1e-12)


def read_png(path):
    """An independent reader of 8-bit RGB or grey PNGs (the five row filters of the PNG spec)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        n, tag = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks.setdefault(tag, b"")
        chunks[tag] += body
        pos += 12 + n
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    c = 3 if colour == 2 else 1
    assert depth == 8 and colour in (0, 2)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + w * c).astype(np.int64)
    out = np.zeros((h, w * c), np.int64)
    for y in range(h):
        kind, row = raw[y, 0], raw[y, 1:]
        up = out[y - 1] if y else np.zeros(w * c, np.int64)
        cur = out[y]
        for x in range(w * c):
            a = cur[x - c] if x >= c else 0
            b, d = up[x], (up[x - c] if x >= c else 0)
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 2:
                pred = b
            elif kind == 3:
                pred = (a + b) // 2
            else:
                assert kind == 4, kind
                p = a + b - d
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - d)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else d)
            cur[x] = (row[x] + pred) % 256
    return out.astype(np.uint8).reshape(h, w, c).squeeze()


def test_png_round_trip(tmp_path):
    img = synthetic_sample(0, size=32, depth=32)["image"]
    save_png(tmp_path / "a.png", img)
    assert np.array_equal(read_png(tmp_path / "a.png"), img.transpose(1, 2, 0))
    grey = (np.arange(35, dtype=np.uint8) * 7).reshape(5, 7)
    save_png(tmp_path / "g.png", grey)
    assert np.array_equal(read_png(tmp_path / "g.png"), grey)
    with pytest.raises(ValueError, match="image must be uint8"):
        save_png(tmp_path / "x.png", np.zeros((4, 4, 2), np.uint8))
