"""The authors' released VRN (Torch7's `vrn-unguided.t7`) as a vrnfast checkpoint: `vrnfast convert`.

The file is read with `torchfile` (the "convert" extra). Its module tree is walked in order; its
convolutions and batch norms fill vrnfast's `vrn` at the `paper` preset, which is the same graph
(vrnfast.models.hourglass.AuthorsStackedHourglass). The conversion then runs the file's own graph
(a direct interpreter of the Torch7 tree, below) and the converted network on one input and
requires the two to agree, so a file of the same layers wired otherwise cannot pass.

The checkpoint carries what the authors' model expects: RGB input scaled to [0, 1]
(`input_range`), its probability output meshed at 0.5 (the network's last layer is their
sigmoid), their depth scale (`z_scale` 0.5: their meshes halve z) and their crop (`crop_rule`
"vrn-run.sh": the landmark box's sqrt(w h) 90 of 192 pixels, the square's corner where their
demo's run.sh puts it, not centred on the box).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import _optional

EXTRA_HINT = _optional.hint("convert")
CONV = ("nn.SpatialConvolution", "cudnn.SpatialConvolution", "nn.SpatialConvolutionMM")
BATCH_NORM = ("nn.SpatialBatchNormalization", "cudnn.SpatialBatchNormalization")
RELU = ("nn.ReLU", "cudnn.ReLU")
CONTAINERS = ("nn.Sequential", "nn.ConcatTable")
OTHERS = ("nn.CAddTable", "nn.Identity", "nn.SpatialMaxPooling", "cudnn.SpatialMaxPooling",
          "nn.SpatialUpSamplingNearest", "nn.SpatialUpSamplingBilinear", "nn.Sigmoid", "cudnn.Sigmoid")
SUPPORTED = CONV + BATCH_NORM + RELU + CONTAINERS + OTHERS
CHECK_TOLERANCE = 1e-4  # the file's graph against the converted network, float32, probabilities


class ConversionError(ValueError):
    """A file that is not a Torch7 model of the authors' VRN, with what is wrong and where."""


def _torchfile():
    torchfile = _optional.import_extra("torchfile", "convert", "reading Torch7 files needs the optional extra",
                                       ConversionError)
    # models saved from the GPU hold CUDA tensors; torchfile knows most CUDA types but not Long
    # (max-pooling indices) nor Half
    for kind, dtype in ((b"Long", np.int64), (b"Half", np.float16)):
        for suffix, add in ((b"Tensor", torchfile.add_tensor_reader), (b"Storage", torchfile.add_storage_reader)):
            name = b"torch.Cuda" + kind + suffix
            if torchfile.type_handlers.get(name) is None or "notimpl" in torchfile.type_handlers[name].__name__:
                add(name, dtype)
    return torchfile


def load_t7(path):
    """The root object of a Torch7 file; ConversionError for anything that is not one."""
    torchfile = _torchfile()
    path = Path(path)
    if path.is_dir():
        raise ConversionError(f"{path}: a directory; give the Torch7 model file (vrn-unguided.t7)")
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    try:
        root = torchfile.load(str(path), utf8_decode_strings=True)
    except Exception as e:  # struct.error at a truncated end, T7ReaderException, MemoryError, ...
        raise ConversionError(f"{path}: not a readable Torch7 file ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else 'no details'})") from None
    if not isinstance(root, torchfile.TorchObject):
        kind = "table" if isinstance(root, (dict, list)) else type(root).__name__
        raise ConversionError(f"{path}: a Torch7 file, but of a {kind}, not a network")
    return root


def typename(obj) -> str:
    import torchfile

    if not isinstance(obj, torchfile.TorchObject):
        return "a Lua table" if isinstance(obj, (dict, list)) else type(obj).__name__
    name = obj.torch_typename()
    return name.decode() if isinstance(name, bytes) else str(name)


def children(module) -> list:
    mods = module.modules
    if mods is None:
        return []
    return list(mods.values()) if isinstance(mods, dict) else list(mods)


def walk(module, path="model"):
    """(path, typename, module) of every module of the tree, depth first, in the file's order;
    ConversionError naming the first unsupported module and its path."""
    name = typename(module)
    if name not in SUPPORTED:
        raise ConversionError(f"{path}: module type {name} is not supported (vrnfast converts "
                              f"{', '.join(sorted(set(SUPPORTED)))})")
    yield path, name, module
    if name in CONTAINERS:
        for i, child in enumerate(children(module)):
            yield from walk(child, f"{path}.modules[{i}]")


def _tensor(module, field, path, dtype=np.float64):
    value = module[field]
    if value is None:
        return None
    a = np.asarray(value)
    if a.dtype.kind not in "fiu":
        raise ConversionError(f"{path}: field {field} is not a numeric tensor")
    return a.astype(dtype)


def batch_norm_statistics(module, path):
    """(mean, var, weight, bias, eps) of a Torch7 batch norm: `running_var` (nn since 2016) or the
    older `running_std`, the inverse standard deviation 1 / sqrt(var + eps)."""
    eps = float(module.eps if module.eps is not None else 1e-5)
    mean = _tensor(module, "running_mean", path)
    if module.running_var is not None:
        var = _tensor(module, "running_var", path)
    elif module.running_std is not None:
        var = 1.0 / np.square(_tensor(module, "running_std", path)) - eps
    else:
        raise ConversionError(f"{path}: batch norm without running_var or running_std")
    n = len(mean)
    weight = _tensor(module, "weight", path) if module.weight is not None else np.ones(n)
    bias = _tensor(module, "bias", path) if module.bias is not None else np.zeros(n)
    return mean, var, weight, bias, eps


def conv_weights(module, path):
    """(weight (out, in, kh, kw), bias or None, stride (h, w), padding (h, w))."""
    w = _tensor(module, "weight", path)
    n_out, n_in, kh, kw = (int(module[k]) for k in ("nOutputPlane", "nInputPlane", "kH", "kW"))
    if w.size != n_out * n_in * kh * kw:
        raise ConversionError(f"{path}: weight of {w.size} values for a {n_in}->{n_out} {kh}x{kw} convolution")
    b = _tensor(module, "bias", path)
    stride = (int(module.dH or 1), int(module.dW or 1))
    padding = (int(module.padH or 0), int(module.padW or 0))
    return w.reshape(n_out, n_in, kh, kw), b, stride, padding


def bilinear_size(module, shape_hw):
    """Torch7's SpatialUpSamplingBilinear output size as torch/nn computes it since 2016-10 (its
    setSize; the authors' model is of 2017): (oheight, owidth) when the module was made with them,
    else the input's size times scale_factor. The module's doc comment still gives
    (h - 1) * (s - 1) + h, what the first releases computed: 189, not 192, for the authors' 4x
    upsampling of 48 x 48 maps."""
    if module.oheight is not None and module.owidth is not None:
        return int(module.oheight), int(module.owidth)
    s = int(module.scale_factor)
    return tuple(n * s for n in shape_hw)


def run_t7(module, x):
    """The Torch7 tree's forward pass in torch (eval mode): the conversion's own check."""
    name = typename(module)
    if name == "nn.Sequential":
        for child in children(module):
            x = run_t7(child, x)
        return x
    if name == "nn.ConcatTable":
        return [run_t7(child, x) for child in children(module)]
    if name == "nn.CAddTable":
        return sum(x[1:], x[0])
    if name == "nn.Identity":
        return x
    if name in CONV:
        w, b, stride, padding = conv_weights(module, "")
        return F.conv2d(x, torch.from_numpy(w).to(x), None if b is None else torch.from_numpy(b).to(x), stride,
                        padding)
    if name in BATCH_NORM:
        mean, var, weight, bias, eps = (torch.as_tensor(v).to(x) if isinstance(v, np.ndarray) else v
                                        for v in batch_norm_statistics(module, ""))
        return F.batch_norm(x, mean, var, weight, bias, False, 0.0, eps)
    if name in RELU:
        return F.relu(x)
    if name.endswith("SpatialMaxPooling"):
        return F.max_pool2d(x, (int(module.kH), int(module.kW)), (int(module.dH), int(module.dW)),
                            (int(module.padH or 0), int(module.padW or 0)), ceil_mode=bool(module.ceil_mode))
    if name == "nn.SpatialUpSamplingNearest":
        return F.interpolate(x, scale_factor=int(module.scale_factor), mode="nearest")
    if name == "nn.SpatialUpSamplingBilinear":
        return F.interpolate(x, size=bilinear_size(module, x.shape[-2:]), mode="bilinear", align_corners=True)
    if name.endswith("Sigmoid"):
        return torch.sigmoid(x)
    raise ConversionError(f"module type {name} is not supported")


def _fill(net, params):
    """Copies the file's convolutions and batch norms, in order, into the network's."""
    targets = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    if len(params) != len(targets):
        convs = sum(name in CONV for _, name, _ in params)
        raise ConversionError(f"the file holds {convs} convolutions and {len(params) - convs} batch norms; the "
                              f"authors' VRN has {sum(isinstance(m, nn.Conv2d) for m in targets)} and "
                              f"{sum(isinstance(m, nn.BatchNorm2d) for m in targets)}")
    with torch.no_grad():
        for (path, name, module), target in zip(params, targets):
            if name in CONV:
                if not isinstance(target, nn.Conv2d):
                    raise ConversionError(f"{path}: a convolution where the authors' VRN has a batch norm")
                w, b, stride, padding = conv_weights(module, path)
                if (w.shape != tuple(target.weight.shape) or stride != target.stride or padding != target.padding
                        or (b is None) != (target.bias is None)):
                    raise ConversionError(f"{path}: a {w.shape[1]}->{w.shape[0]} {w.shape[2]}x{w.shape[3]} convolution "
                                          f"(stride {stride}, padding {padding}) where the authors' VRN has "
                                          f"{target.in_channels}->{target.out_channels} {target.kernel_size[0]}x"
                                          f"{target.kernel_size[1]} (stride {target.stride}, padding {target.padding})")
                target.weight.copy_(torch.from_numpy(w))
                if b is not None:
                    target.bias.copy_(torch.from_numpy(b))
            else:
                if not isinstance(target, nn.BatchNorm2d):
                    raise ConversionError(f"{path}: a batch norm where the authors' VRN has a convolution")
                mean, var, weight, bias, eps = batch_norm_statistics(module, path)
                if len(mean) != target.num_features:
                    raise ConversionError(f"{path}: a batch norm of {len(mean)} channels where the authors' VRN "
                                          f"has {target.num_features}")
                # the file's eps folded into the variance: the same normalisation at vrnfast's eps
                target.running_var.copy_(torch.from_numpy(var + eps - target.eps))
                target.running_mean.copy_(torch.from_numpy(mean))
                target.weight.copy_(torch.from_numpy(weight))
                target.bias.copy_(torch.from_numpy(bias))


def _upsampling_note(modules, size_hw):
    """Where a wrong output size comes from: the file's bilinear upsampling, named by its path."""
    for path, name, module in modules:
        if name == "nn.SpatialUpSamplingBilinear":
            spelled = (f"oheight {module.oheight}, owidth {module.owidth}" if module.oheight is not None
                       else f"scale_factor {module.scale_factor}")
            made = bilinear_size(module, (size_hw[0] // 4, size_hw[1] // 4))
            return (f": its upsampling {path} ({spelled}) makes {made[0]}x{made[1]} of the 48x48 maps, where the "
                    f"authors' VRN makes {size_hw[0]}x{size_hw[1]}")
    return ""


def _output(result):
    """The network's output: a trailing ConcatTable of one branch (the authors') gives a table."""
    while isinstance(result, list):
        if len(result) != 1:
            raise ConversionError(f"the network gives {len(result)} outputs; the authors' VRN gives one volume")
        result = result[0]
    return result


def convert(t7_path, out_path=None, check=True) -> dict:
    """The authors' VRN from a Torch7 file as a vrnfast checkpoint (written to `out_path`, atomically,
    when given). ConversionError, leaving no output file, when anything does not fit."""
    from ..data.crop import VRN_FACE_FRACTION
    from ..models import PRESETS, build_model

    root = load_t7(t7_path)
    modules = list(walk(root))
    params = [m for m in modules if m[1] in CONV + BATCH_NORM]
    net = build_model("vrn", "paper").eval()
    _fill(net, params)
    last = [name for _, name, _ in modules if name not in CONTAINERS]
    if not last or not last[-1].endswith("Sigmoid"):
        raise ConversionError("the network does not end in a sigmoid; the authors' VRN gives probabilities")
    preset = PRESETS["paper"]
    if check:
        x = torch.rand(1, 3, preset.image_size, preset.image_size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            theirs = _output(run_t7(root, x))
            ours = torch.sigmoid(net(x)["volume"][-1])
        if theirs.shape != ours.shape:
            raise ConversionError(f"the file's network gives {tuple(theirs.shape)}; the authors' VRN gives "
                                  f"{tuple(ours.shape)}{_upsampling_note(modules, tuple(ours.shape[-2:]))}")
        err = float((theirs - ours).abs().max())
        if not err <= CHECK_TOLERANCE:
            raise ConversionError(f"the file's layers fit the authors' VRN but its graph computes something else "
                                  f"(largest difference {err:.3g} on a test input)")
    checkpoint = {"model": net.state_dict(), "model_name": "vrn", "preset": "paper",
                  "input_range": "0..1",  # their code feeds RGB / 255
                  "z_scale": 0.5, "face_fraction": VRN_FACE_FRACTION, "crop_rule": "vrn-run.sh",
                  "source": f"converted from {Path(t7_path).name} (Torch7) by vrnfast convert"}
    if out_path is not None:
        from ..io import atomic_write

        atomic_write(out_path, lambda f: torch.save(checkpoint, f))
    return checkpoint
