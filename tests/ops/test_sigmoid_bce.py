"""vrnfast.sigmoid_bce against F.binary_cross_entropy_with_logits, for the C++ and Triton backends."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import vrnfast
from vrnfast.ops.sigmoid_bce import pos_weight_layout

from helpers import BACKENDS, DEVICE, device_for
from helpers.bce import make, ours, reference, same_bits

ULP = {torch.float32: 1e-6, torch.float16: 2**-10, torch.bfloat16: 2**-7}


def check(x, y, backend, pos_weight=None, reduction="mean", grad_output=None):
    loss, grad = ours(x, y, backend, grad_output, pos_weight=pos_weight, reduction=reduction)
    ref_loss, ref_grad = reference(x, y, pos_weight, reduction, grad_output)
    assert loss.dtype == torch.float32 and loss.shape == ref_loss.shape
    assert grad.dtype == x.dtype and grad.shape == x.shape
    torch.testing.assert_close(loss, ref_loss, rtol=2e-5, atol=2e-6, equal_nan=True)
    # the gradient: float32 math, rounded once to the logits' dtype
    scale = ref_grad.abs().nan_to_num(0.0, 0.0, 0.0).max().item() if ref_grad.numel() else 1.0
    torch.testing.assert_close(grad.float(), ref_grad, rtol=ULP[x.dtype], atol=ULP[x.dtype] * scale + 1e-7,
                               equal_nan=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("target", ["bool", "uint8", "float32"])
def test_matches_pytorch(backend, reduction, dtype, target):
    x, y = make((3, 5, 7), dtype, target, device_for(backend))
    check(x, y, backend, reduction=reduction)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("target", ["float16", "bfloat16", "float64", "int64"])
def test_other_target_dtypes(backend, target):
    x, y = make((4, 33), torch.float32, target, device_for(backend))
    check(x, y, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(1,), (17,), (2, 3, 4, 5), (3, 40, 301)], ids=str)
def test_odd_sizes_and_chunk_boundaries(backend, shape):
    x, y = make(shape, device=device_for(backend))
    for reduction in ("mean", "sum", "none"):
        check(x, y, backend, reduction=reduction)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pw_shape", [None, (), (1,), (7,), (5, 1), (5, 7), (3, 5, 7), (3, 1, 7), (1, 5, 1)], ids=str)
def test_pos_weight(backend, pw_shape):
    dev = device_for(backend)
    x, y = make((3, 5, 7), device=dev, target="float32")
    pw = 2.5 if pw_shape is None else (torch.rand(pw_shape, generator=torch.Generator().manual_seed(1)) * 3).to(dev)
    for reduction in ("mean", "none"):
        loss, grad = ours(x, y, backend, pos_weight=pw, reduction=reduction)
        ref_pw = torch.tensor(2.5, device=dev) if pw_shape is None else pw
        ref_loss, ref_grad = reference(x, y, ref_pw, reduction)
        torch.testing.assert_close(loss, ref_loss, rtol=2e-5, atol=2e-6)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-6)


def test_pos_weight_layout():
    shape = (2, 4, 3, 5)
    for pw_shape, (count, inner) in {(5,): (5, 1), (3, 1): (3, 5), (4, 1, 1): (4, 15), (4, 3, 5): (60, 1),
                                     (1, 4, 3, 1): (12, 5), (2, 1, 1, 1): (2, 60)}.items():
        pw = torch.arange(np.prod(pw_shape), dtype=torch.float32).reshape(pw_shape)
        w, c, i = pos_weight_layout(pw, shape)
        assert (c, i) == (count, inner), pw_shape
        idx = torch.arange(np.prod(shape))
        torch.testing.assert_close(w[(idx // i) % c].reshape(shape), pw.expand(shape))
    w, c, i = pos_weight_layout(torch.ones(4, 1, 5), shape)  # not expressible: expanded
    assert (c, i) == (120, 1)
    w, c, i = pos_weight_layout(torch.tensor(2.0), shape)  # a scalar: one run over everything
    assert (c, i) == (1, 120) and w.tolist() == [2.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_extreme_and_special_logits(backend):
    dev = device_for(backend)
    x = torch.tensor([1e4, -1e4, 88.0, -88.0, 104.0, -104.0, 30.0, -30.0, 0.0, -0.0, 1e-30, 17.5], device=dev)
    for y in (torch.zeros_like(x), torch.ones_like(x), torch.full_like(x, 0.3)):
        loss, grad = ours(x, y, backend, reduction="none")
        assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
        check(x, y, backend, reduction="none")
    # NaN propagates exactly where PyTorch's does
    x = torch.tensor([0.5, float("nan"), -2.0, float("inf"), -float("inf")], device=dev)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0], device=dev)
    check(x, y, backend, reduction="none")
    loss, _ = ours(x, y, backend, reduction="mean")
    assert torch.isnan(loss)


@pytest.mark.parametrize("backend", BACKENDS)
def test_strided_inputs(backend):
    dev = device_for(backend)
    x, y = make((6, 8, 10), device=dev, target="float32")
    check(x.transpose(0, 2), y.transpose(0, 2), backend, reduction="none")
    check(x[::2, 1:, ::3], y[::2, 1:, ::3], backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_output_scaling(backend):
    dev = device_for(backend)
    x, y = make((4, 9), device=dev)
    check(x, y, backend, grad_output=torch.tensor(3.0, device=dev))
    check(x, y, backend, grad_output=torch.tensor(1.0, device=dev))
    go = torch.randn(4, 9, generator=torch.Generator().manual_seed(3)).to(dev)
    check(x, y, backend, reduction="none", grad_output=go)
    # the loss used twice: autograd adds both contributions
    xr = x.clone().requires_grad_()
    (vrnfast.sigmoid_bce(xr, y, backend=backend) * 2 + vrnfast.sigmoid_bce(xr, y, backend=backend)).backward()
    torch.testing.assert_close(xr.grad, 3 * reference(x, y)[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic(backend):
    x, y = make((3, 40, 301), device=device_for(backend), seed=5)
    a = vrnfast.sigmoid_bce(x, y, backend=backend)
    b = vrnfast.sigmoid_bce(x, y, backend=backend)
    assert torch.equal(a, b)


def test_cpp_sum_does_not_depend_on_threads():
    x, y = make((5, 100, 301), seed=6)
    try:
        vrnfast.set_num_threads(1)
        a, ga = ours(x, y, "cpp", reduction="sum")
        vrnfast.set_num_threads(2)
        b, gb = ours(x, y, "cpp", reduction="sum")
    finally:
        vrnfast.set_num_threads(0)
    assert torch.equal(a, b) and torch.equal(ga, gb)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_gradient_is_the_rounded_float32_gradient(dtype):
    x, y = make((2, 50, 70), dtype, "uint8", seed=7, spread=12.0)
    for reduction in ("mean", "sum"):
        _, g16 = ours(x, y, "cpp", reduction=reduction)
        _, g32 = ours(x.float(), y, "cpp", reduction=reduction)
        assert torch.equal(g16, g32.to(dtype))  # one rounding, bit for bit


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_kernel_stores_16_bit_gradients_with_one_rounding(dtype):
    """The C++ kernel's own float -> float16 / bfloat16 stores (subnormals and overflow included)."""
    from vrnfast import _backend as B

    ext = B.cpu_ext()
    x, y = make((3, 40, 301), torch.float32, "uint8", seed=12, spread=20.0)
    for scale in (1.0, 1e-7, 3e4):
        g32 = torch.empty_like(x)
        g16 = torch.empty(x.shape, dtype=dtype)
        for g in (g32, g16):
            ext.bce_forward(x.data_ptr(), ext.dtypes["float32"], y.data_ptr(), ext.dtypes["uint8"], x.numel(), 0, 1, 1,
                            scale, g.data_ptr(), ext.dtypes[str(g.dtype)[6:]], 0)
        assert torch.equal(g16, g32.to(dtype))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_gradients_under_loss_scaling(backend, dtype):
    """AMP: GradScaler multiplies the loss by 65536; a float16 gradient must neither overflow nor
    underflow, and be the float32 gradient rounded once (or twice, within an ulp)."""
    x, y = make((4, 9, 33), dtype, "uint8", device_for(backend), seed=10)
    go = torch.tensor(65536.0, device=x.device)
    for reduction in ("mean", "sum"):
        _, grad = ours(x, y, backend, reduction=reduction, grad_output=go)
        # exact (float64) reference: PyTorch's float32 sigmoid(x) - 1 cancels for y = 1
        _, ref = reference(x, y, reduction=reduction, grad_output=go.double(), dtype=torch.float64)
        torch.testing.assert_close(grad.float(), ref.to(dtype).float(), rtol=ULP[dtype], atol=0)


def test_half_mean_gradient_does_not_underflow():
    n = 2 * 50 * 192 * 192  # g / N is below float16's smallest subnormal for most elements here
    x, y = make((n,), torch.float16, "uint8", seed=11)
    _, grad = ours(x, y, "cpp", grad_output=torch.tensor(1024.0))
    _, ref = reference(x, y, grad_output=torch.tensor(1024.0, dtype=torch.float64), dtype=torch.float64)
    ref = ref.half()
    assert (grad != 0).float().mean() > 0.98 and torch.equal(grad != 0, ref != 0)
    torch.testing.assert_close(grad.float(), ref.float(), rtol=ULP[torch.float16], atol=2.0**-24)


@pytest.mark.parametrize("backend", BACKENDS)
def test_confident_predictions_keep_full_relative_accuracy(backend):
    """sigmoid(x) for confident negatives (and 1 - sigmoid for positives) must not cancel to 0."""
    dev = device_for(backend)
    x = torch.linspace(-80, 80, 4001, device=dev)
    for label in (0.0, 1.0):
        y = torch.full_like(x, label)
        _, grad = ours(x, y, backend, reduction="sum")
        xd = x.double().cpu()
        exact = torch.sigmoid(xd) if label == 0.0 else -torch.sigmoid(-xd)
        rel = ((grad.double().cpu() - exact).abs() / exact.abs().clamp_min(1e-300))
        assert rel.max() < 1e-5, (label, x[rel.argmax()].item(), rel.max().item())


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_reuses_the_logits_storage(backend):
    x, y = make((3, 5, 7), device=device_for(backend))
    ref_loss, ref_grad = ours(x, y, backend)
    xi = x.clone().requires_grad_()
    h = xi * 1.0  # a non-leaf "network output" whose storage the loss may take
    loss = vrnfast.sigmoid_bce(h, y, backend=backend, inplace=True)
    assert torch.equal(loss, ref_loss)
    torch.testing.assert_close(h.detach(), ref_grad)  # the gradient now lives in h's storage
    loss.backward()
    torch.testing.assert_close(xi.grad, ref_grad)
    with pytest.raises(ValueError, match="contiguous"):
        vrnfast.sigmoid_bce(x.transpose(0, 2), y.transpose(0, 2), backend=backend, inplace=True)
    # a parameter (leaf that requires grad), or a view of one, is never overwritten
    with pytest.raises(ValueError, match="float32 logits"):
        vrnfast.sigmoid_bce(x.half() * 1.0, y, backend=backend, inplace=True)
    for leaf in (x.clone().requires_grad_(), x.clone().requires_grad_()[:2]):
        with pytest.raises(ValueError, match="leaf tensor"):
            vrnfast.sigmoid_bce(leaf, y[: len(leaf)], backend=backend, inplace=True)
    # another use of the overwritten logits fails loudly instead of reading gradients
    xi = x.clone().requires_grad_()
    h = xi * 1.0
    other = (h * h).sum()
    vrnfast.sigmoid_bce(h, y, backend=backend, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        other.backward()


def test_unsupported_second_backward_and_double_backward_raise():
    x, y = make((3, 4), target="float32")
    xr = x.clone().requires_grad_()
    loss = vrnfast.sigmoid_bce(xr, y)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second backward"):
        loss.backward()
    xr = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(vrnfast.sigmoid_bce(xr, y), xr)  # plain autograd.grad is fine
    torch.testing.assert_close(g, reference(x, y)[1])
    with pytest.raises(RuntimeError, match="no double backward"):
        torch.autograd.grad(vrnfast.sigmoid_bce(xr, y), xr, create_graph=True)


def test_empty_input():
    x = torch.zeros(0, 3, requires_grad=True)
    y = torch.zeros(0, 3)
    assert torch.isnan(vrnfast.sigmoid_bce(x, y))
    assert vrnfast.sigmoid_bce(x, y, reduction="sum").item() == 0.0
    assert vrnfast.sigmoid_bce(x, y, reduction="none").shape == (0, 3)


def test_reference_backend_is_pytorch():
    x, y = make((3, 4), target="float32")
    assert torch.equal(vrnfast.sigmoid_bce(x, y, backend="reference"), F.binary_cross_entropy_with_logits(x, y))


def test_module():
    x, y = make((2, 3, 4, 5))
    pw = torch.rand(4, 5) + 0.5
    crit = vrnfast.nn.SigmoidBCELoss(pos_weight=pw, reduction="sum")
    assert "pos_weight" in dict(crit.named_buffers())
    torch.testing.assert_close(crit(x, y), F.binary_cross_entropy_with_logits(x, y.float(), pos_weight=pw,
                                                                               reduction="sum"))
    assert "reduction='sum'" in repr(crit)


def test_scale_op_skips_when_grad_output_is_one():
    g = torch.randn(10)
    before = g.clone()
    torch.ops.vrnfast.scale_grad_(g, torch.tensor(1.0), "cpp")
    assert torch.equal(g, before)
    torch.ops.vrnfast.scale_grad_(g, torch.tensor(-2.0), "cpp")
    assert torch.equal(g, before * -2)


@pytest.mark.triton
@pytest.mark.parametrize("target", ["uint8", "float32", "float64", "bfloat16"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_computes_the_cpp_formula_bit_for_bit(dtype, target):
    """One formula on every backend: Triton runs bce_math.h's operations in its order, with IEEE
    division and no fused multiply-adds, so each element's loss and gradient equal the C++ ones
    exactly (here in Triton's interpreter, on a GPU compiled), extremes and NaN included."""
    x, y = make((3, 1000), dtype, target, device=DEVICE, seed=5, spread=30.0)
    x[0, :12] = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 17.5, -17.5, 87.0, -88.5, 104.0, 1e4, float("inf"),
                              float("nan")]).to(dtype)
    pw = torch.rand(1000, generator=torch.Generator().manual_seed(2)) * 3
    for kw in ({}, {"pos_weight": pw.to(DEVICE)}, {"pos_weight": 0.25}):
        for reduction in ("none", "mean"):
            lt, gt = ours(x, y, "triton", reduction=reduction, **kw)
            lc, gc = ours(x.cpu(), y.cpu(), "cpp", reduction=reduction, **kw_cpu(kw))
            assert same_bits(gt.cpu().float(), gc.float()), (kw, reduction)
            if reduction == "none":
                assert same_bits(lt.cpu(), lc), kw
            else:  # the sums' orders differ (blocks of 4096 against chunks of 32768)
                torch.testing.assert_close(lt.cpu(), lc, rtol=1e-6, atol=0, equal_nan=True)


def kw_cpu(kw):
    return {k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}


@pytest.mark.triton
def test_triton_scale_kernel():
    from vrnfast.kernels.sigmoid_bce import scale_unless_one_

    g = torch.randn(5000, device=DEVICE)
    before = g.clone()
    scale_unless_one_(g, torch.tensor(1.0, device=DEVICE))
    assert torch.equal(g, before)
    scale_unless_one_(g, torch.tensor(0.5, device=DEVICE))
    assert torch.equal(g, before * 0.5)


@pytest.mark.parametrize("call, exc, match", [
    (lambda x, y: vrnfast.sigmoid_bce(x.numpy(), y), TypeError, "logits must be a torch tensor"),
    (lambda x, y: vrnfast.sigmoid_bce(x.double(), y), TypeError, "logits must be float32"),
    (lambda x, y: vrnfast.sigmoid_bce(x.long(), y), TypeError, "logits must be float32"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y.numpy()), TypeError, "target must be a torch tensor"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y[:2]), ValueError, "target has shape"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y.to(torch.complex64)), TypeError, "target must be"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y.float().requires_grad_()), ValueError, "target requires grad"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y, reduction="avg"), ValueError, "reduction must be one of"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y, backend="cuda"), ValueError, "no 'cuda' backend"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y, pos_weight=torch.ones(4)), ValueError, "does not broadcast"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y, pos_weight=float("nan")), ValueError, "pos_weight must be finite"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y, pos_weight="2"), TypeError, "pos_weight"),
    (lambda x, y: vrnfast.sigmoid_bce(x, y, pos_weight=torch.ones(5, requires_grad=True)), ValueError,
     "pos_weight requires grad"),
])
def test_bad_input(call, exc, match):
    x, y = make((3, 5), target="float32")
    with pytest.raises(exc, match=match):
        call(x, y)


def test_device_mismatch_names_the_argument():
    x, y = make((3, 5), target="float32")
    with pytest.raises(ValueError, match="target is on meta"):
        vrnfast.sigmoid_bce(x, y.to("meta"))
    with pytest.raises(ValueError, match="pos_weight is on meta"):
        vrnfast.sigmoid_bce(x, y, pos_weight=torch.ones(5, device="meta"))
    with pytest.raises(ValueError, match="logits is on device meta"):
        vrnfast.sigmoid_bce(x.to("meta"), y.to("meta"))


def test_torch_compile_without_graph_breaks():
    x, y = make((2, 6, 9), target="uint8", seed=8)
    w = torch.nn.Parameter(torch.randn(9, 9) * 0.3)

    def step(inp):
        return vrnfast.sigmoid_bce(inp @ w, y, backend="cpp")

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    loss = compiled(x)
    loss.backward()
    gw = w.grad.clone()
    w.grad = None
    ref = F.binary_cross_entropy_with_logits(x @ w, y.float())
    ref.backward()
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(gw, w.grad)


@pytest.mark.slow
def test_torch_compile_inductor():
    x, y = make((2, 6, 9), target="uint8", seed=9)
    compiled = torch.compile(lambda inp: vrnfast.sigmoid_bce(inp * 2.0, y, backend="cpp"), fullgraph=True)
    xr = x.clone().requires_grad_()
    loss = compiled(xr)
    loss.backward()
    ref_loss, ref_grad = reference(x * 2.0, y)
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(xr.grad, 2.0 * ref_grad)
