"""Every CUDA and Triton entry point on CUDA tensors, against the CPU result or the reference.
Collected everywhere (`pytest -m cuda` lists them), run where a GPU is: tools/gpu_check.py treats
any of them skipped on a GPU machine as a failure. Marching cubes' own CUDA tests are in
test_marching_cubes.py (TestCuda)."""
import numpy as np
import pytest
import torch

import vrnfast
from helpers import requires_cuda, requires_cuda_ext
from helpers.bce import make, ours, reference, same_bits

mc = vrnfast.marching_cubes


def _smooth(shape=(21, 18, 25), seed=3):
    from vrnfast.data import random_smooth

    return random_smooth(shape, sigma=1.5, seed=seed)


# ---- marching cubes -------------------------------------------------------------------------------

@requires_cuda_ext
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8,
                                   torch.int16, torch.bool])
@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.5, 2.0, 1.25)])
def test_mc_normals_every_dtype_and_spacing(dtype, spacing):
    vol = torch.from_numpy(_smooth())
    vol = (vol > 0) if dtype == torch.bool else (vol * 40 + 50).to(dtype)
    level = 0.5 if dtype == torch.bool else 50.0
    cpu = mc(vol, level, spacing=spacing, return_normals=True)
    gpu = mc(vol.cuda(), level, spacing=spacing, return_normals=True)
    for a, b in zip(cpu, gpu):
        assert b.is_cuda and torch.equal(a, b.cpu())


@requires_cuda_ext
def test_mc_negative_strides_and_cupy():
    vol = torch.from_numpy(_smooth())
    for v in (vol.transpose(0, 2), vol[1::2, :, 2:], vol.permute(1, 0, 2)[:, ::3]):  # torch has no negative strides
        a, b = mc(v, 0.0), mc(v.cuda(), 0.0)
        assert torch.equal(a[0], b[0].cpu()) and torch.equal(a[1], b[1].cpu())
    cp = pytest.importorskip("cupy")
    arr = np.ascontiguousarray(_smooth())[::-1, :, ::-2]  # negative strides, as CuPy keeps them
    v, f = mc(cp.asarray(arr), 0.0)
    ref = mc(np.ascontiguousarray(arr), 0.0)
    np.testing.assert_array_equal(cp.asnumpy(v), ref[0])
    np.testing.assert_array_equal(cp.asnumpy(f), ref[1])


@requires_cuda_ext
def test_mc_on_a_device_that_is_not_current():
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")  # not counted against a one-GPU machine: see gpu_check.py
    vol = torch.from_numpy(_smooth())
    with torch.cuda.device(0):
        v, f = mc(vol.to("cuda:1"), 0.0)
    assert v.device == torch.device("cuda:1")
    assert torch.equal(v.cpu(), mc(vol, 0.0)[0])


@requires_cuda_ext
def test_mc_empty_surface():
    v, f = mc(torch.zeros(4, 4, 4, device="cuda"), 0.5)
    assert v.shape == (0, 3) and f.shape == (0, 3) and v.is_cuda and f.dtype == torch.int32


@requires_cuda_ext
@pytest.mark.slow
def test_mc_past_2_31_voxels():
    """A volume past 2^31 voxels (a stride-0 expand costs one plane of memory): every index is
    64-bit; the surface is the plane's, repeated."""
    plane = torch.from_numpy((_smooth((1, 64, 64))[0] > 0).astype(np.float32)).cuda()
    n = (2**31) // (64 * 64) + 2
    vol = plane.expand(n, 64, 64)
    assert vol.numel() > 2**31
    v, f = mc(vol, 0.5)
    # constant along depth: every layer has the plane's crossings, every slab the same triangles
    v3, f3 = mc(plane.expand(3, 64, 64).contiguous(), 0.5)
    assert len(v3) > 0 and len(v) == n * (len(v3) // 3) and len(f) == (n - 1) * (len(f3) // 2)
    assert v.is_cuda and torch.equal(v[: len(v3) // 3].cpu(), v3[: len(v3) // 3].cpu())


@requires_cuda_ext
def test_mc_under_cuda_graph_capture_raises_and_leaves_the_device_usable():
    """Marching cubes makes one device-to-host copy (the totals), which graph capture forbids: it
    must say so, not crash or corrupt the graph."""
    vol = torch.from_numpy(_smooth()).cuda()
    mc(vol, 0.0)  # warm-up outside the capture
    g = torch.cuda.CUDAGraph()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        with pytest.raises(Exception):
            with torch.cuda.graph(g):
                mc(vol, 0.0)
    torch.cuda.synchronize()
    assert torch.equal(mc(vol, 0.0)[1].cpu(), mc(vol.cpu(), 0.0)[1])  # still usable afterwards


# ---- sigmoid_bce ----------------------------------------------------------------------------------

@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("target", ["bool", "uint8", "float32", "float16", "bfloat16", "float64"])
def test_bce_cuda_equals_the_cpp_formula_bit_for_bit(dtype, target):
    x, y = make((4, 5001), dtype, target, seed=9, spread=30.0)
    for kw in ({}, {"pos_weight": torch.rand(5001) * 3}, {"pos_weight": 2.5}):
        for reduction in ("mean", "sum", "none"):
            gkw = {k: (v.cuda() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
            lg, gg = ours(x.cuda(), y.cuda(), "auto", reduction=reduction, **gkw)
            lc, gc = ours(x, y, "cpp", reduction=reduction, **kw)
            assert gg.is_cuda and gg.dtype == dtype
            assert same_bits(gg.cpu().float(), gc.float()), (kw, reduction)
            if reduction == "none":
                assert same_bits(lg.cpu(), lc)
            else:
                torch.testing.assert_close(lg.cpu(), lc, rtol=1e-6, atol=0)
            pw = kw.get("pos_weight")
            rl, _ = reference(x, y, torch.tensor(pw) if isinstance(pw, float) else pw, reduction)
            torch.testing.assert_close(lg.cpu(), rl, rtol=2e-5, atol=2e-6, equal_nan=True)


@requires_cuda
def test_bce_cuda_inplace_and_no_host_sync():
    x, y = make((2, 64, 64, 64), seed=1)
    x, y = x.cuda(), y.cuda()
    logits = x.clone().requires_grad_()
    ref_loss, ref_grad = ours(x, y, "auto")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host synchronisation raises
    try:
        out = logits * 1.0  # a non-leaf, as a network's output
        loss = vrnfast.sigmoid_bce(out, y, inplace=True)
        loss.backward()
        loss2 = vrnfast.sigmoid_bce(x, y, pos_weight=2.0)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(logits.grad, ref_grad)
    assert torch.isfinite(loss2)


@requires_cuda
@pytest.mark.slow
def test_bce_cuda_under_torch_compile():
    x, y = make((3, 4099), seed=2)
    x, y = x.cuda().requires_grad_(), y.cuda()
    f = torch.compile(lambda a, b: vrnfast.sigmoid_bce(a, b) * 3.0, fullgraph=True)
    loss = f(x, y)
    loss.backward()
    ref_loss, ref_grad = reference(x.detach().cpu(), y.cpu())
    torch.testing.assert_close(loss.cpu(), ref_loss * 3.0, rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(x.grad.cpu(), ref_grad * 3.0, rtol=1e-5, atol=1e-9)


@requires_cuda
def test_bce_on_a_second_device():
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")
    x, y = make((3, 4099), seed=4)
    with torch.cuda.device(0):
        loss, grad = ours(x.to("cuda:1"), y.to("cuda:1"), "auto")
    assert grad.device == torch.device("cuda:1")
    lc, gc = ours(x, y, "cpp")
    assert same_bits(grad.cpu(), gc)


# ---- warp and augment -----------------------------------------------------------------------------

def _params(b, seed=0):
    return vrnfast.AugmentParams.sample(b, torch.Generator().manual_seed(seed))


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.uint8, torch.bool, torch.float32, torch.float16, torch.bfloat16,
                                   torch.float64])
@pytest.mark.parametrize("shape", [(2, 20, 24, 28), (1, 1, 24, 28), (2, 20, 1, 28)])
def test_warp_cuda_equals_cpu(dtype, shape):
    g = torch.Generator().manual_seed(5)
    vol = torch.rand(shape, generator=g)
    vol = (vol > 0.5) if dtype == torch.bool else (vol * 200).to(dtype)
    _, m3 = _params(shape[0]).matrices(*shape[2:], shape[1])
    for mode in ("nearest", "trilinear"):
        a = vrnfast.warp_volume(vol, m3, mode)
        b = vrnfast.warp_volume(vol.cuda(), m3, mode)  # a CPU matrix with CUDA data
        assert b.is_cuda and b.dtype == a.dtype
        if mode == "nearest":  # both evaluate the one double map: equal, but for the rarest ties
            assert (a != b.cpu()).float().mean() < 1e-3
        else:
            torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-3 * (200 if dtype != torch.bool else 1))
    img = torch.rand(shape[0], 3, *shape[2:], generator=g)
    img = (img > 0.5) if dtype == torch.bool else (img * 255).to(dtype)
    m2, _ = _params(shape[0]).matrices(*shape[2:], shape[1])
    for scale in (None, torch.rand(shape[0], 3, generator=g) + 0.5):
        a = vrnfast.warp_image(img, m2, scale)
        b = vrnfast.warp_image(img.cuda(), m2.cuda(), scale)
        assert b.dtype == a.dtype
        torch.testing.assert_close(b.cpu().double(), a.double(), rtol=1e-2, atol=1.0)


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.int16, torch.uint16, torch.int32])
def test_warp_cuda_channels_and_other_projects_dtypes(dtype):
    """(B, C, D, H, W) CT, microscopy and label-map volumes: one matrix per sample on every channel,
    equal to the CPU kernel's result."""
    g = torch.Generator().manual_seed(8)
    shape = (2, 3, 19, 23, 30)
    vol = (torch.rand(shape, generator=g) * 2000 - (0 if dtype == torch.uint16 else 1000)).to(dtype)
    _, m3 = _params(shape[0]).matrices(*shape[3:], shape[2])
    for mode in ("nearest", "trilinear"):
        a = vrnfast.warp_volume(vol, m3, mode)
        b = vrnfast.warp_volume(vol.cuda(), m3.cuda(), mode)
        assert b.is_cuda and b.dtype == a.dtype and b.shape == a.shape
        a, b = a.to(torch.float64), b.cpu().to(torch.float64)
        if mode == "nearest":
            assert (a != b).float().mean() < 1e-3
        else:
            torch.testing.assert_close(b, a, rtol=1e-4, atol=0.5)


@requires_cuda
def test_warp_cupy_in_cupy_out():
    cp = pytest.importorskip("cupy")
    vol = (np.random.default_rng(3).random((2, 11, 13, 17)) * 3000 - 1000).astype(np.int16)  # (C, D, H, W)
    _, m3 = _params(1).matrices(13, 17, 11)
    ref = vrnfast.warp_volume(vol, m3[0].numpy(), "nearest")
    out = vrnfast.warp_volume(cp.asarray(vol), m3[0].numpy(), "nearest")
    assert isinstance(out, cp.ndarray) and out.dtype == np.int16
    assert (cp.asnumpy(out) != ref).mean() < 1e-3


@requires_cuda
def test_augment_on_the_device_equals_the_cpu_and_never_waits():
    g = torch.Generator().manual_seed(4)
    img = (torch.rand(4, 3, 64, 64, generator=g) * 255).to(torch.uint8)
    vol = (torch.rand(4, 64, 64, 64, generator=g) > 0.5).to(torch.uint8)
    lms = torch.rand(4, 68, 3, generator=g) * 63
    p = _params(4, seed=3)
    p.flip[:] = torch.tensor([True, False, True, False])
    a = vrnfast.augment(img, vol, p, lms)
    img_c, vol_c, lms_c = img.cuda(), vol.cuda(), lms.cuda()
    vrnfast.augment(img_c, vol_c, p, lms_c)  # warm-up: per-device constants, kernel compilation
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        b = vrnfast.augment(img_c, vol_c, p, lms_c)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert (a[1] != b[1].cpu()).float().mean() < 1e-3
    assert (a[0].int() - b[0].cpu().int()).abs().max() <= 1
    torch.testing.assert_close(b[2].cpu(), a[2])


# ---- training, reconstruction, evaluation ---------------------------------------------------------

@requires_cuda
def test_a_training_step_on_cuda_agrees_with_the_cpu(tmp_path):
    from vrnfast.training.trainer import TrainConfig, Trainer

    losses = {}
    for device in ("cpu", "cuda"):
        cfg = TrainConfig(out=str(tmp_path / device), epochs=1, epoch_size=16, batch_size=8, val_size=8, workers=0,
                          device=device, amp="off", augment_on="device")
        t = Trainer(cfg, progress=False)
        t.on_step = lambda tr: tr.request_stop()
        t.fit()
        losses[device] = t.last_loss
    # cuDNN sums in another order, in TF32 by PyTorch's default for convolutions
    assert losses["cuda"] == pytest.approx(losses["cpu"], rel=1e-2)


@requires_cuda
def test_bf16_training_on_cuda_resumes(tmp_path):
    from vrnfast.training.trainer import TrainConfig, Trainer

    cfg = dict(out=str(tmp_path / "r"), epochs=2, epoch_size=16, batch_size=8, val_size=8, workers=0, device="cuda")
    Trainer(TrainConfig(**{**cfg, "epochs": 1}), progress=False).fit()
    t = Trainer(TrainConfig(**cfg), resume=True, progress=False)
    history = t.fit()
    assert [r["epoch"] for r in history] == [1, 2] and all(np.isfinite(r["train_loss"]) for r in history)


@requires_cuda_ext
def test_reconstruct_and_evaluate_on_cuda(tiny_checkpoint):
    from vrnfast.data import synthetic_sample
    from vrnfast.evaluation.protocol import evaluate

    face = synthetic_sample(3, seed=99, size=64, depth=64)["image"].transpose(1, 2, 0).copy()
    cpu = vrnfast.Reconstructor(tiny_checkpoint, device="cpu").mesh(face)
    gpu = vrnfast.Reconstructor(tiny_checkpoint, device="cuda").mesh(face)  # bf16 autocast on CUDA
    assert abs(len(gpu.verts) - len(cpu.verts)) < 0.05 * len(cpu.verts)
    assert np.abs(gpu.verts.mean(0) - cpu.verts.mean(0)).max() < 1.0
    gpu_result = evaluate(tiny_checkpoint, "synthetic", n=4, device="cuda", progress=False)
    cpu_result = evaluate(tiny_checkpoint, "synthetic", n=4, device="cpu", progress=False)
    assert gpu_result["n"] == 4 and gpu_result["n_failed"] == 0
    assert gpu_result["iou_mean"] == pytest.approx(cpu_result["iou_mean"], abs=0.02)
    assert gpu_result["nme_mean"] == pytest.approx(cpu_result["nme_mean"], rel=0.1)
