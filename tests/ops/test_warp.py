"""warp_volume / warp_image against affine_grid + grid_sample, and the augmentation's consistency."""
import math

import pytest
import torch

import vrnfast
from vrnfast.training.augmentation import IBUG68_MIRROR, Augment, AugmentParams, augment, transform_landmarks

from helpers import BACKENDS, DEVICE, device_for


def random_matrices(b, shape, seed=0, max_angle=45.0, shift=4.0, out_shape=None):
    """Rotations about z and arbitrary small tilts, scales and shifts: (b, 3, 4) float64."""
    g = torch.Generator().manual_seed(seed)
    d, h, w = shape
    od, oh, ow = out_shape or shape
    ms = []
    for _ in range(b):
        a = math.radians((torch.rand(1, generator=g).item() * 2 - 1) * max_angle)
        s = 0.8 + 0.4 * torch.rand(1, generator=g).item()
        rot = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]],
                           dtype=torch.float64)
        tilt = torch.eye(3, dtype=torch.float64) + 0.1 * (torch.rand(3, 3, generator=g, dtype=torch.float64) - 0.5)
        lin = rot @ tilt / s
        c_in = torch.tensor([(w - 1) / 2, (h - 1) / 2, (d - 1) / 2], dtype=torch.float64)
        c_out = torch.tensor([(ow - 1) / 2, (oh - 1) / 2, (od - 1) / 2], dtype=torch.float64)
        t = (torch.rand(3, generator=g, dtype=torch.float64) * 2 - 1) * shift
        ms.append(torch.cat([lin, (c_in - lin @ c_out + t)[:, None]], 1))
    return torch.stack(ms)


def blob_volume(shape, b=2, dtype=torch.uint8, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((b, *shape), generator=g) > 0.5).to(dtype)


SHAPES = [(5, 7, 9), (13, 8, 11), (2, 2, 2)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_nearest_matches_grid_sample(backend, shape):
    dev = device_for(backend)
    vol = (blob_volume(shape) * 200 + 7).to(dev)
    m = random_matrices(2, shape).to(dev)
    out = vrnfast.warp_volume(vol, m, "nearest", backend=backend)
    ref = vrnfast.warp_volume(vol, m, "nearest", backend="reference")
    assert out.dtype == torch.uint8 and out.shape == vol.shape
    # they may differ only at exact rounding ties (grid_sample rounds half to even in float32)
    assert (out != ref).float().mean().item() < 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float16], ids=str)
def test_trilinear_matches_grid_sample(backend, dtype):
    dev = device_for(backend)
    shape = (6, 9, 10)
    vol = (torch.rand((2, *shape), generator=torch.Generator().manual_seed(2)) * 100).to(dtype).to(dev)
    m = random_matrices(2, shape, seed=3).to(dev)
    out = vrnfast.warp_volume(vol, m, "trilinear", backend=backend)
    ref = vrnfast.warp_volume(vol, m, "trilinear", backend="reference")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.int16, torch.uint16, torch.int32, torch.float16, torch.bfloat16, torch.float64],
                         ids=str)
def test_other_projects_dtypes_with_channels_match_grid_sample(backend, dtype):
    """(B, C, D, H, W) volumes of CT (int16), microscopy (uint16), label maps (int32) and half
    floats: each sample's matrix on every channel, in one call, as grid_sample on each channel."""
    dev = device_for(backend)
    shape = (4, 6, 7)  # small: the Triton interpreter runs it too
    g = torch.Generator().manual_seed(5)
    vol = (torch.rand((2, 2, *shape), generator=g) * 2000 - (0 if dtype == torch.uint16 else 1000)).to(dtype).to(dev)
    m = random_matrices(2, shape, seed=6).to(dev)
    for mode in ("nearest", "trilinear"):
        out = vrnfast.warp_volume(vol, m, mode, backend=backend)
        assert out.shape == vol.shape and out.dtype == (dtype if mode == "nearest" else torch.float32)
        for c in range(2):  # channel by channel through the reference
            ref = vrnfast.warp_volume(vol[:, c], m, mode, backend="reference")
            if mode == "nearest":
                assert (out[:, c] != ref).float().mean().item() < 1e-3  # but exact rounding ties
            else:
                torch.testing.assert_close(out[:, c], ref, rtol=1e-5, atol=1e-3)
    half = vrnfast.warp_volume(vol, m, "trilinear", backend=backend, out_dtype=torch.float16)
    assert half.dtype == torch.float16


def test_numpy_in_numpy_out():
    import numpy as np

    shape = (5, 7, 9)
    vol = (np.random.default_rng(0).random((3, *shape)) * 3000 - 1000).astype(np.int16)  # (C, D, H, W)
    m = random_matrices(1, shape)[0]
    out = vrnfast.warp_volume(vol, m.numpy(), "nearest")
    assert isinstance(out, np.ndarray) and out.dtype == np.int16 and out.shape == vol.shape
    ref = vrnfast.warp_volume(torch.from_numpy(vol), m, "nearest", backend="reference").numpy()
    assert (out != ref).mean() < 1e-3
    tri = vrnfast.warp_volume(vol[0], m, "trilinear", out_dtype=np.float64)
    assert isinstance(tri, np.ndarray) and tri.dtype == np.float64 and tri.shape == shape
    flags = vrnfast.warp_volume(vol > 0, m.numpy(), "nearest")
    assert flags.dtype == np.bool_ and flags.shape == vol.shape


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_shape_and_unbatched(backend):
    dev = device_for(backend)
    vol = blob_volume((7, 8, 9), b=1).to(dev)
    m = random_matrices(1, (7, 8, 9), out_shape=(4, 5, 6), seed=4).to(dev)
    out = vrnfast.warp_volume(vol[0], m[0], "nearest", out_shape=(4, 5, 6), backend=backend)
    assert out.shape == (4, 5, 6)
    ref = vrnfast.warp_volume(vol, m, "nearest", out_shape=(4, 5, 6), backend="reference")[0]
    assert (out != ref).float().mean().item() < 1e-2
    tri = vrnfast.warp_volume(vol, m, "trilinear", out_shape=(4, 5, 6), backend=backend)
    torch.testing.assert_close(tri, vrnfast.warp_volume(vol, m, "trilinear", out_shape=(4, 5, 6), backend="reference"),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_identity_and_integer_shifts_are_exact(backend):
    dev = device_for(backend)
    vol = (torch.rand(1, 6, 7, 8, generator=torch.Generator().manual_seed(5)) * 255).to(torch.uint8).to(dev)
    eye = torch.zeros(1, 3, 4, dtype=torch.float64)
    eye[0, :, :3] = torch.eye(3)
    for mode in ("nearest", "trilinear"):
        out = vrnfast.warp_volume(vol, eye.to(dev), mode, backend=backend)
        assert torch.equal(out.to(vol.dtype) if mode == "trilinear" else out, vol)
    shift = eye.clone()
    shift[0, :, 3] = torch.tensor([2.0, -1.0, 1.0])  # out(x, y, z) = in(x + 2, y - 1, z + 1)
    out = vrnfast.warp_volume(vol, shift.to(dev), "nearest", backend=backend)
    expect = torch.zeros_like(vol)
    expect[0, :-1, 1:, :-2] = vol[0, 1:, :-1, 2:]
    assert torch.equal(out, expect)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rounding_half_away_from_zero(backend):
    dev = device_for(backend)
    vol = torch.arange(1, 9, dtype=torch.uint8).reshape(1, 2, 2, 2).to(dev)
    m = torch.zeros(1, 3, 4, dtype=torch.float64)
    m[0, :, :3] = torch.eye(3)
    m[0, 0, 3] = 0.5  # x + 0.5: x = 0 -> 1 (half away), x = 1 -> 2 (outside, zero)
    out = vrnfast.warp_volume(vol, m.to(dev), "nearest", backend=backend)
    assert torch.equal(out[..., 0], vol[..., 1]) and (out[..., 1] == 0).all()
    m[0, 0, 3] = -0.5  # x = 0 -> -0.5 rounds away to -1: outside; x = 1 -> 0.5 -> 1
    out = vrnfast.warp_volume(vol, m.to(dev), "nearest", backend=backend)
    assert (out[..., 0] == 0).all() and torch.equal(out[..., 1], vol[..., 1])


def nearest_float64(vol, m):
    """Brute force in float64: every output voxel's source, rounded half away from zero."""
    import numpy as np

    v = vol.numpy()
    b, d, h, w = v.shape
    zz, yy, xx = np.meshgrid(np.arange(d), np.arange(h), np.arange(w), indexing="ij")
    out = np.zeros_like(v)
    for i in range(b):
        mm = m[i].numpy()
        # the map's evaluation order (csrc/warp/warp_map.h): the row's constant part, then + m0 * x
        src = [(mm[k, 1] * yy + mm[k, 2] * zz + mm[k, 3]) + mm[k, 0] * xx for k in range(3)]
        idx = [np.where(c < 0, -np.floor(-c + 0.5), np.floor(c + 0.5)) for c in src]
        ok = (idx[0] >= 0) & (idx[0] < w) & (idx[1] >= 0) & (idx[1] < h) & (idx[2] >= 0) & (idx[2] < d)
        ix, iy, iz = (np.where(ok, c, 0).astype(int) for c in idx)
        out[i] = np.where(ok, v[i][iz, iy, ix], 0)
    return torch.from_numpy(out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nearest_rounds_exact_ties_half_away_from_zero(backend):
    """Decimal zooms put many voxels exactly on .5 ties (0.9 * 5 = 4.5); rounding must follow the
    rule there too (a fixed-point stepping would round some of them the other way)."""
    shape = (7, 9, 33)
    vol = (torch.arange(7 * 9 * 33) % 251 + 1).to(torch.uint8).reshape(1, *shape)
    for entries in ([0.9, 0.0, 0.0, 0.7, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                    [0.9, 0.2, 0.1, 0.5, -0.3, 0.7, 0.0, 1.5, 0.1, 0.0, 0.9, 0.5]):
        m = torch.tensor(entries, dtype=torch.float64).reshape(1, 3, 4)
        want = nearest_float64(vol, m)
        got = vrnfast.warp_volume(vol.to(device_for(backend)), m.to(device_for(backend)), "nearest", backend=backend)
        assert torch.equal(got.cpu(), want)


@pytest.mark.parametrize("backend", ["cpp", "reference"])
def test_size_one_axes_are_zero_outside(backend):
    vol = torch.arange(1, 13, dtype=torch.uint8).reshape(1, 2, 1, 6)
    m = torch.zeros(1, 3, 4, dtype=torch.float64)
    m[0, :, :3] = torch.eye(3)
    assert torch.equal(vrnfast.warp_volume(vol, m, "nearest", backend=backend), vol)
    m[0, 1, 3] = 5.0  # y + 5 on a volume of height 1: all outside
    assert (vrnfast.warp_volume(vol, m, "nearest", backend=backend) == 0).all()
    assert (vrnfast.warp_volume(vol, m, "trilinear", backend=backend) == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_bool_and_float_nearest_keep_dtype(backend):
    dev = device_for(backend)
    vol = blob_volume((5, 6, 7)).to(dev)
    m = random_matrices(2, (5, 6, 7), seed=6).to(dev)
    ref = vrnfast.warp_volume(vol, m, "nearest", backend=backend)
    b = vrnfast.warp_volume(vol.bool(), m, "nearest", backend=backend)
    f = vrnfast.warp_volume(vol.float(), m, "nearest", backend=backend)
    assert b.dtype == torch.bool and f.dtype == torch.float32
    assert torch.equal(b, ref.bool()) and torch.equal(f, ref.float())


@pytest.mark.parametrize("backend", BACKENDS)
def test_strided_volume(backend):
    dev = device_for(backend)
    base = blob_volume((9, 8, 10)).to(dev)
    view = base.transpose(1, 3)[:, ::2]  # non-contiguous, (2, 5, 8, 9)
    m = random_matrices(2, tuple(view.shape[1:]), seed=7).to(dev)
    for mode in ("nearest", "trilinear"):
        a = vrnfast.warp_volume(view, m, mode, backend=backend)
        b = vrnfast.warp_volume(view.contiguous(), m, mode, backend=backend)
        assert torch.equal(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
def test_warp_image_matches_grid_sample(backend, dtype):
    dev = device_for(backend)
    g = torch.Generator().manual_seed(8)
    img = (torch.rand(2, 3, 11, 13, generator=g) * 255).to(dtype).to(dev)
    m2 = random_matrices(2, (1, 11, 13), seed=9)[:, :2][:, :, [0, 1, 3]].to(dev)
    scale = (torch.rand(2, 3, generator=g) + 0.5).to(dev)
    out = vrnfast.warp_image(img, m2, scale, backend=backend)
    ref = vrnfast.warp_image(img, m2, scale, backend="reference")
    assert out.dtype == dtype
    if dtype == torch.uint8:
        assert (out.int() - ref.int()).abs().max().item() <= 1  # rounding of nearly-equal floats
        assert (out != ref).float().mean().item() < 0.01
    else:
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-3)
    # a per-channel scale of (C,) applies to every sample of the batch
    one = vrnfast.warp_image(img, m2, scale[0], backend=backend)
    assert torch.equal(one[0], out[0])
    assert torch.equal(one[1], vrnfast.warp_image(img[1:], m2[1:], scale[0:1], backend=backend)[0])


def test_params_sampling_is_seeded_and_in_range():
    p = AugmentParams.sample(500, torch.Generator().manual_seed(0))
    q = AugmentParams.sample(500, torch.Generator().manual_seed(0))
    assert all(torch.equal(getattr(p, f), getattr(q, f)) for f in ("angle", "translation", "scale", "flip", "colour"))
    assert p.angle.abs().max() <= 45 and p.translation.abs().max() <= 15
    assert p.scale.min() >= 0.85 and p.scale.max() <= 1.15
    assert 0.12 < p.flip.float().mean() < 0.28
    assert p.colour.min() >= 0.6 and p.colour.max() <= 1.4 and p.colour.shape == (500, 3)


def test_matrices_invert_the_forward_map():
    p = AugmentParams.sample(8, torch.Generator().manual_seed(1), flip_p=0.5)
    fwd = p.forward_matrices(32, 40, 36)
    m2, m3 = p.matrices(32, 40, 36)
    pts = torch.rand(8, 5, 3, dtype=torch.float64) * 30
    out = pts @ fwd[:, :3, :3].transpose(1, 2) + fwd[:, None, :3, 3]
    back = out @ m3[:, :, :3].transpose(1, 2) + m3[:, None, :, 3]
    torch.testing.assert_close(back, pts)
    back2 = out[..., :2] @ m2[:, :, :2].transpose(1, 2) + m2[:, None, :, 2]
    torch.testing.assert_close(back2, pts[..., :2])
    # depth scales like x and y, about the depth centre, and does not rotate
    torch.testing.assert_close(fwd[:, 2, 2], p.scale.double())
    assert torch.all(fwd[:, 2, :2] == 0) and torch.all(fwd[:, :2, 2] == 0)


def test_mirror_map():
    m = IBUG68_MIRROR
    assert sorted(m) == list(range(68)) and all(m[m[i]] == i for i in range(68))
    assert (m[0], m[16], m[36], m[45], m[48], m[54], m[31], m[35]) == (16, 0, 45, 36, 54, 48, 35, 31)
    assert all(m[i] == i for i in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66))


def test_flip_mirrors_a_symmetric_face():
    """Flip only: a symmetric landmark set maps onto itself with the indices swapped."""
    W, H, D = 41, 30, 20
    g = torch.Generator().manual_seed(2)
    left = torch.rand(68, 3, generator=g, dtype=torch.float64) * torch.tensor([15.0, 25.0, 15.0])
    lm = left.clone()
    for i in range(68):  # make landmark m[i] the mirror image of landmark i about x = (W - 1) / 2
        j = IBUG68_MIRROR[i]
        if j > i:
            lm[j] = lm[i] * torch.tensor([-1.0, 1.0, 1.0]) + torch.tensor([W - 1.0, 0, 0])
        elif j == i:
            lm[i, 0] = (W - 1) / 2
    p = AugmentParams.identity(1)
    p.flip[:] = True
    out = transform_landmarks(lm[None].float(), p, H, W, D)[0]
    torch.testing.assert_close(out, lm.float(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_augment_keeps_image_volume_and_landmarks_consistent(backend):
    """A blob at a landmark lands, in the image and in the volume, where the landmark goes."""
    dev = device_for(backend)
    # smaller for Triton, which runs in its (slow) interpreter without a GPU
    b, H, W, D = (6, 28, 30, 26) if backend == "cpp" or dev == "cuda" else (4, 20, 22, 18)
    g = torch.Generator().manual_seed(3)
    lm = torch.rand(b, 68, 3, generator=g) * torch.tensor([W - 14.0, H - 14.0, D - 14.0]) + 7
    lm = lm.round()
    img = torch.zeros(b, 3, H, W, dtype=torch.uint8)
    vol = torch.zeros(b, D, H, W, dtype=torch.uint8)
    for i in range(b):
        x, y, z = lm[i, 36].long().tolist()
        vol[i, z - 1:z + 2, y - 1:y + 2, x - 1:x + 2] = 1
        img[i, :, y - 1:y + 2, x - 1:x + 2] = 200
    p = AugmentParams.sample(b, g, translation=3.0, flip_p=0.5)
    assert p.flip.any() and not p.flip.all()
    out_img, out_vol, out_lm = augment(img.to(dev), vol.to(dev), p, lm.to(dev), backend=backend)
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    for i in range(b):
        j = IBUG68_MIRROR[36] if p.flip[i] else 36
        target = out_lm[i, j].cpu().double()
        zz, yy, xx = torch.nonzero(out_vol[i].cpu(), as_tuple=True)
        blob = torch.stack([xx, yy, zz]).double().mean(1)
        assert (blob - target).abs().max() < 0.75, (i, blob, target)
        w = out_img[i, 0].cpu().double()
        centre = torch.stack([(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()])
        assert (centre - target[:2]).abs().max() < 0.5, (i, centre, target)
        # the blob's centre pixel has the sample's colour scale applied, channel by channel
        centre_px = out_img[i, :, int(target[1].round()), int(target[0].round())].float().cpu()
        torch.testing.assert_close(centre_px, (200 * p.colour[i]).clamp(max=255).round(), atol=25, rtol=0)


@pytest.mark.triton
def test_augment_is_deterministic_and_matches_between_backends():
    g = torch.Generator().manual_seed(4)
    img = (torch.rand(2, 3, 12, 14, generator=g) * 255).to(torch.uint8)
    vol = (torch.rand(2, 10, 12, 14, generator=g) > 0.5).to(torch.uint8)
    p = AugmentParams.sample(2, torch.Generator().manual_seed(9))
    a = augment(img, vol, p)
    b = augment(img, vol, p)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    t = augment(img.to(DEVICE), vol.to(DEVICE), p, backend="triton")
    assert (t[1].cpu() != a[1]).float().mean() < 1e-3
    assert (t[0].cpu().int() - a[0].int()).abs().max() <= 1


def test_dataset_transform():
    aug = Augment(seed=0, flip_p=1.0)
    img = (torch.rand(3, 16, 16) * 255).to(torch.uint8)
    vol = (torch.rand(12, 16, 16) > 0.5).to(torch.uint8)
    lm = torch.rand(68, 3) * 10 + 3
    i2, v2, l2 = aug((img, vol, lm))
    assert i2.shape == img.shape and v2.shape == vol.shape and l2.shape == lm.shape and v2.dtype == torch.uint8
    again = Augment(seed=0, flip_p=1.0)((img, vol, lm))
    assert torch.equal(i2, again[0]) and torch.equal(v2, again[1]) and torch.equal(l2, again[2])
    assert Augment(seed=0)((img, vol, None))[2] is None
    with pytest.raises(ValueError, match="scale must be"):
        Augment(scale=(1.2, 0.9))


class _Faces(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return ((torch.rand(3, 10, 12, generator=g) * 255).to(torch.uint8),
                (torch.rand(8, 10, 12, generator=g) > 0.5).to(torch.uint8), torch.rand(68, 3, generator=g) * 7)


class _Augmented(torch.utils.data.Dataset):
    def __init__(self):
        self.base, self.aug = _Faces(), Augment(seed=1)

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        out = self.aug(self.base[i])
        return (*out, torch.tensor(vrnfast.get_num_threads()))


class _Same(_Augmented):
    def __getitem__(self, i):
        return super().__getitem__(0)  # the same input every time: only the augmentation varies


def test_transform_in_dataloader_workers_uses_one_thread_each():
    loader = torch.utils.data.DataLoader(_Augmented(), batch_size=2, num_workers=2)
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(2, 3, 10, 12)] * 2 and batches[0][1].dtype == torch.uint8
    assert all((b[3] == 1).all() for b in batches)


def test_workers_and_epochs_draw_different_augmentations():
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(_Same(), batch_size=1, num_workers=2)
    epoch1 = [b[2] for b in loader]
    epoch2 = [b[2] for b in loader]
    assert not torch.equal(epoch1[0], epoch1[1])  # worker 0 and worker 1
    assert not torch.equal(epoch1[0], epoch2[0])  # epoch 1 and epoch 2
    torch.manual_seed(0)
    again = [b[2] for b in torch.utils.data.DataLoader(_Same(), batch_size=1, num_workers=2)]
    assert all(torch.equal(a, b) for a, b in zip(epoch1, again))  # reproducible under manual_seed


@pytest.mark.parametrize("call, exc, match", [
    (lambda v, m: vrnfast.warp_volume(v.tolist(), m), TypeError, "volume must be"),
    (lambda v, m: vrnfast.warp_volume(v[0, 0], m), ValueError, "volume must be 4-D"),
    (lambda v, m: vrnfast.warp_volume(v.long(), m), TypeError, "volume must be one of uint8, bool, .*int16, uint16, int32"),
    (lambda v, m: vrnfast.warp_volume(v, m, out_dtype=torch.int16), ValueError, "out_dtype is for trilinear"),
    (lambda v, m: vrnfast.warp_volume(v[None], m), ValueError, "matrix must have shape"),
    (lambda v, m: vrnfast.warp_volume(v, m[:, :2]), ValueError, "matrix must have shape"),
    (lambda v, m: vrnfast.warp_volume(v, m[:1]), ValueError, "matrix must have shape"),
    (lambda v, m: vrnfast.warp_volume(v, m * float("nan")), ValueError, "matrix must be finite"),
    (lambda v, m: vrnfast.warp_volume(v, m.long()), TypeError, "matrix must be a float tensor"),
    (lambda v, m: vrnfast.warp_volume(v, m, mode="cubic"), ValueError, "mode must be one of"),
    (lambda v, m: vrnfast.warp_volume(v, m, out_shape=(3, 0, 3)), ValueError, "out_shape"),
    (lambda v, m: vrnfast.warp_volume(v, m, backend="cuda"), ValueError, "no 'cuda' backend"),
    (lambda v, m: vrnfast.warp_volume(v, m.to("meta")), ValueError, "matrix is on meta"),
    (lambda v, m: vrnfast.warp_image(v[:, :3], m[:, :2, :3], colour_scale=torch.ones(4)), ValueError, "colour_scale"),
    (lambda v, m: vrnfast.warp_image(v[:, :3], m), ValueError, "matrix2d must have shape"),
    (lambda v, m: augment(v[:, :3, :, :4], v, AugmentParams.identity(2)), ValueError, "must equal the volume"),
    (lambda v, m: augment(v[:, :3, :3, :3], v[:1, :, :3, :3], AugmentParams.identity(2)), ValueError, "batch sizes"),
])
def test_bad_input(call, exc, match):
    v = blob_volume((4, 5, 6))
    m = random_matrices(2, (4, 5, 6))
    with pytest.raises(exc, match=match):
        call(v, m)
