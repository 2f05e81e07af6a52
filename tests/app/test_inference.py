"""vrnfast.models.inference: batch norms folded into convolutions, convolutions fused with their
ReLUs and residual sums on oneDNN's reordered weights, against the network as trained (eval mode),
the reference in float64."""
import copy

import pytest
import torch
from torch import nn

from vrnfast.models import build_model, normalize_images
from vrnfast.models.inference import OneDNNConv, OneDNNResidual, fold_batch_norms, for_inference, onednn_available

needs_onednn = pytest.mark.skipif(not onednn_available(), reason="this PyTorch build has no oneDNN (mkldnn)")


def trained_like(name="vrn", preset="tiny", seed=0):
    """A network in eval mode whose batch norms hold statistics and affine terms far from the
    identity, as a trained one's do (fresh ones would fold into nothing)."""
    torch.manual_seed(seed)
    net = build_model(name, preset).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return net


def image(size, seed=1):
    g = torch.Generator().manual_seed(seed)
    return normalize_images(torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8, generator=g))


@pytest.mark.parametrize("name", ["vrn", "guided", "multitask"])
def test_folded_batch_norms_compute_the_same_network(name):
    net = trained_like(name)
    x = image(64)
    with torch.no_grad():
        ref = net.double()(x.double())["volume"][-1]
        folded = copy.deepcopy(net).float()
        n = fold_batch_norms(folded)
        got = folded(x)["volume"][-1].double()
    assert n > 0 and sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) > 0  # pre-activation ones stay
    assert not any(isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d) for seq in folded.modules()
                   if isinstance(seq, nn.Sequential) for a, b in zip(seq, list(seq)[1:]))
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(build_model(name, "tiny").train())


@needs_onednn
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_onednn_convolution_with_its_relu_is_the_convolution_then_the_relu_bitwise(dtype):
    torch.manual_seed(0)
    for conv in (nn.Conv2d(16, 24, 3, padding=1), nn.Conv2d(8, 8, 7, stride=2, padding=3), nn.Conv2d(8, 4, 1)):
        conv = conv.to(dtype).eval()
        x = torch.randn(2, conv.in_channels, 20, 18).to(dtype).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            for relu in (False, True):
                want = conv(x)
                want = torch.relu(want) if relu else want
                fused = OneDNNConv(conv, relu)
                assert torch.equal(fused(x), want)
                assert torch.equal(fused(x[:1]), want[:1])  # another input shape: weights reordered for it
                # conv(x) + other, rounded once: against the float64 sum, within one rounding of dtype
                other = torch.randn_like(want)
                exact = torch.nn.functional.conv2d(x.double(), conv.weight.double(), conv.bias.double(), conv.stride,
                                                   conv.padding) + other.double()
                eps = torch.finfo(dtype).eps
                torch.testing.assert_close(fused.plus(x, other).double(), exact, rtol=eps, atol=64 * eps)


@needs_onednn
def test_the_networks_made_ready_for_inference_compute_what_they_computed():
    """Every preset's design, every model: float32 within float32's rounding of the float64
    reference; bf16 within bf16's."""
    for name, preset in (("vrn", "tiny"), ("guided", "tiny"), ("multitask", "tiny"), ("vrn", "paper")):
        net = trained_like(name, preset)
        size = net.preset.image_size
        x = image(size)[:1]
        with torch.no_grad():
            ref = copy.deepcopy(net).double()(x.double())["volume"][-1]
            for dtype, tol in ((torch.float32, 2e-4), (torch.bfloat16, 0.15)):
                fast = for_inference(copy.deepcopy(net), dtype)
                if dtype == torch.float32:
                    assert any(isinstance(m, OneDNNResidual) for m in fast.modules())
                    assert not any(isinstance(m, nn.Conv2d) for m in fast.modules())
                got = fast(x.to(dtype).contiguous(memory_format=torch.channels_last))["volume"][-1].double()
                scale = ref.abs().max()
                assert (got - ref).abs().max() <= tol * scale, (name, preset, dtype)
