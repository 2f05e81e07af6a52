"""VRN, VRN-Guided, VRN-Multitask: shapes, parameter counts (against an independent formula), and
a forward/backward pass of the tiny preset."""
import pytest
import torch

from vrnfast.cli import main
from vrnfast.models import MODELS, NUM_LANDMARKS, PRESETS, Preset, build_model, describe, parameter_count


def residual(cin, cout):
    mid = cout // 2
    bn = lambda c: 2 * c
    conv = lambda ci, co, k: ci * co * k * k + co
    return (bn(cin) + conv(cin, mid, 1) + bn(mid) + conv(mid, mid, 3) + bn(mid) + conv(mid, cout, 1)
            + (conv(cin, cout, 1) if cin != cout else 0))


def hourglass(depth, f):
    return 3 * residual(f, f) + (hourglass(depth - 1, f) if depth > 1 else residual(f, f))


def stacked(cin, cout, f, stacks, depth):
    stem = cin * 64 * 49 + 64 + 2 * 64 + residual(64, 128) + residual(128, 128) + residual(128, f)
    per_stack = hourglass(depth, f) + residual(f, f) + (f * f + f) + 2 * f + (f * cout + cout)
    merge = (stacks - 1) * ((f * f + f) + (cout * f + f))
    return stem + stacks * per_stack + merge


def authors_hourglass(depth, f):
    """The authors' level: 3 residuals (then the inner level) at full resolution, 6 (9 innermost)
    pooled, 1 after the sum."""
    lower = 6 if depth > 1 else 9
    return (3 + lower + 1) * residual(f, f) + (authors_hourglass(depth - 1, f) if depth > 1 else 0)


def authors_stacked(cin, cout, f, stacks, depth):
    cbr = f * f + f + 2 * f
    stem = cin * 64 * 49 + 64 + 2 * 64 + residual(64, 128) + residual(128, 128) + residual(128, f)
    return stem + stacks * (authors_hourglass(depth, f) + 2 * cbr) + cbr + (f * cout + cout)


def expected_parameters(model, p):
    net = authors_stacked if p.design == "authors" else stacked
    if model == "vrn":
        return net(3, p.depth, p.features, p.stacks, p.hourglass_depth)
    if model == "multitask":
        return net(3, p.depth + NUM_LANDMARKS, p.features, p.stacks, p.hourglass_depth)
    return (net(3, NUM_LANDMARKS, p.features, p.guide_stacks, p.hourglass_depth)
            + net(3 + NUM_LANDMARKS, p.depth, p.features, p.stacks, p.hourglass_depth))


def outputs(p, stacks):
    """How many outputs a network of `stacks` hourglasses gives: one per stack, or the authors' one."""
    return 1 if p.design == "authors" else stacks


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("model", MODELS)
def test_shapes_and_parameter_counts(model, preset):
    d = describe(model, preset)
    p = PRESETS[preset]
    assert d["parameters"] == expected_parameters(model, p)
    assert d["volume"] == [(1, p.depth, p.image_size, p.image_size)] * outputs(p, p.stacks)
    stacks = {"vrn": 0, "guided": outputs(p, p.guide_stacks), "multitask": outputs(p, p.stacks)}[model]
    assert d["landmarks"] == [(1, NUM_LANDMARKS, p.image_size // 2, p.image_size // 2)] * stacks


def test_paper_sizes():
    """The paper's network: 192x192 images, 200 depth slices, residual modules of 256 features."""
    p = PRESETS["paper"]
    assert (p.image_size, p.depth, p.features, p.design) == (192, 200, 256, "authors")


def test_paper_vrn_is_the_authors_released_graph():
    """The census of vrn-unguided.t7's graph: 19,184,968 parameters, 276 convolutions, 273 batch
    norms; the hourglasses at 48 x 48 (a quarter of 192) with their pooled branches at 24 x 24 and
    nothing smaller: 27 residual modules (81 convolutions) per stack there."""
    net = build_model("vrn", "paper").eval()
    assert parameter_count(net) == 19_184_968
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 276 and sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 273
    sizes = []  # every convolution's output width
    with torch.device("meta"):
        meta = build_model("vrn", "paper").eval()
    for c in (m for m in meta.modules() if isinstance(m, torch.nn.Conv2d)):
        c.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
    out = meta(torch.empty(1, 3, 192, 192, device="meta"))
    assert min(sizes) == 24 and sizes.count(24) == 2 * 27 * 3 and sizes.count(96) == 1 + 3 + 1
    assert [tuple(v.shape) for v in out["volume"]] == [(1, 200, 192, 192)]
    # the head's bilinear 4x upsampling keeps the corners (Torch7's SpatialUpSamplingBilinear)
    low = torch.randn(1, 200, 48, 48)
    up = torch.nn.functional.interpolate(low, size=(192, 192), mode="bilinear", align_corners=True)
    net.net.head.register_forward_hook(lambda m, i, o: low)
    volume = net(torch.randn(1, 3, 192, 192))["volume"][0]
    torch.testing.assert_close(volume, up)
    assert torch.equal(volume[..., 0, 0], low[..., 0, 0]) and torch.equal(volume[..., -1, -1], low[..., -1, -1])


@pytest.mark.parametrize("model", MODELS)
def test_tiny_forward_backward(model):
    torch.manual_seed(0)
    net = build_model(model, "tiny")
    x = torch.randn(2, 3, 64, 64)
    out = net(x)
    assert [v.shape for v in out["volume"]] == [(2, 64, 64, 64)] * 2
    loss = sum(v.float().pow(2).mean() for v in out["volume"] + out["landmarks"])
    loss.backward()
    grads = [q.grad for q in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    if model == "guided":  # the landmark network is trained through the volume loss too
        assert net.guide.heads[-1].weight.grad.abs().sum() > 0


def test_custom_preset_and_bad_arguments():
    net = build_model("vrn", Preset(image_size=32, depth=8, features=16, stacks=1, hourglass_depth=2, guide_stacks=1))
    assert net(torch.randn(1, 3, 32, 32))["volume"][0].shape == (1, 8, 32, 32)
    assert parameter_count(net) == expected_parameters("vrn", net.preset)
    with pytest.raises(ValueError, match="input height and width must be multiples of 8"):
        net(torch.randn(1, 3, 36, 32))
    with pytest.raises(ValueError, match="model must be one of"):
        build_model("unet")
    with pytest.raises(ValueError, match="preset must be one of"):
        build_model("vrn", "huge")
    with pytest.raises(ValueError, match="must be a multiple of 16"):
        build_model("vrn", Preset(image_size=40, depth=8, features=16, stacks=1, hourglass_depth=3, guide_stacks=1))


def _model_rows(out):
    """info's model table: {(model, preset): (parameters, input, volume, landmarks)}."""
    lines = out.split("models (shapes per sample")[1].splitlines()[2:]
    rows = {}
    for line in lines:
        model, preset, params, inp, rest = line.split(None, 4)
        volume, landmarks = rest.split("  ", 1)
        rows[model, preset] = (int(params.replace(",", "")), inp, volume.strip(), landmarks.strip())
    return rows


def test_info_prints_every_model_at_every_preset(capsys):
    main(["info"])
    rows = _model_rows(capsys.readouterr().out)
    assert set(rows) == {(m, p) for m in MODELS for p in PRESETS}
    for (m, p), (params, inp, volume, landmarks) in rows.items():
        pre = PRESETS[p]
        assert params == parameter_count(build_model(m, p))  # counted again, on real modules
        assert inp == f"3x{pre.image_size}x{pre.image_size}"
        assert volume == f"{outputs(pre, pre.stacks)} x {pre.depth}x{pre.image_size}x{pre.image_size}"
        half = pre.image_size // 2
        heads = outputs(pre, pre.guide_stacks if m == "guided" else pre.stacks)
        assert landmarks == ("-" if m == "vrn" else f"{heads} x 68x{half}x{half}")
    main(["info", "--model", "vrn", "--preset", "paper"])
    assert set(_model_rows(capsys.readouterr().out)) == {("vrn", "paper")}
