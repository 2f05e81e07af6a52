"""Torch7 files for the converter's tests, without Torch7: a writer of its binary serialisation
(what `torch.save` wrote on a 64-bit machine), module trees of the authors' VRN and of every module
type, and a direct numpy interpreter of such trees (float64), the tests' independent reference."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

NIL, NUMBER, STRING, TABLE, TORCH, BOOLEAN = 0, 1, 2, 3, 4, 5


@dataclass
class Module:
    """A Torch7 object: its class name and its fields (a Lua table)."""
    name: str
    fields: dict = field(default_factory=dict)


@dataclass
class Tensor:
    array: np.ndarray
    kind: str = "Float"  # torch.<kind>Tensor: Float, Double, Cuda, CudaLong, Long, ...


STORAGE_DTYPES = {"Float": "<f4", "Double": "<f8", "Cuda": "<f4", "Long": "<i8", "CudaLong": "<i8",
                  "CudaDouble": "<f8", "Byte": "u1"}


class Writer:
    def __init__(self, f):
        self.f, self.index = f, 0

    def _int(self, v):
        self.f.write(struct.pack("<i", v))

    def _long(self, v):
        self.f.write(struct.pack("<q", v))

    def _string(self, s):
        b = s.encode() if isinstance(s, str) else s
        self._int(len(b))
        self.f.write(b)

    def _ref(self, kind):
        self._int(kind)
        self.index += 1
        self._int(self.index)

    def obj(self, v):
        if v is None:
            self._int(NIL)
        elif isinstance(v, bool):
            self._int(BOOLEAN)
            self._int(int(v))
        elif isinstance(v, (int, float)):
            self._int(NUMBER)
            self.f.write(struct.pack("<d", float(v)))
        elif isinstance(v, (str, bytes)):
            self._int(STRING)
            self._string(v)
        elif isinstance(v, (list, tuple)):
            self.obj({i + 1: x for i, x in enumerate(v)})
        elif isinstance(v, dict):
            self._ref(TABLE)
            self._int(len(v))
            for k, x in v.items():
                self.obj(k)
                self.obj(x)
        elif isinstance(v, Tensor):
            self._tensor(v)
        elif isinstance(v, Module):
            self._ref(TORCH)
            self._string("V 1")
            self._string(v.name)
            self.obj(v.fields)
        else:
            raise TypeError(type(v))

    def _tensor(self, t):
        a = np.ascontiguousarray(t.array, STORAGE_DTYPES[t.kind])
        self._ref(TORCH)
        self._string("V 1")
        self._string(f"torch.{t.kind}Tensor")
        self._int(a.ndim)
        for n in a.shape:
            self._long(n)
        for s in (np.array(a.strides) // a.itemsize if a.ndim else []):
            self._long(int(s))
        self._long(1)  # storage offset, 1-based
        self._ref(TORCH)  # the storage
        self._string("V 1")
        self._string(f"torch.{t.kind}Storage")
        self._long(a.size)
        self.f.write(a.tobytes())


def save(path, root):
    with open(path, "wb") as f:
        Writer(f).obj(root)


# --- module trees -----------------------------------------------------------------------------

@dataclass
class Style:
    """How a file of the era spells things: cudnn or nn classes, tensor types, batch norm's fields."""
    cudnn: bool = False
    kind: str = "Float"  # Float, Double or Cuda
    running_std: bool = False  # the pre-2016 batch norm field
    gain: float = 1.0  # of the random convolutions (deep trees need < 1 to keep activations finite)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))


def _t(style, a):
    return Tensor(np.asarray(a), style.kind)


def conv(s, cin, cout, k=1, stride=1, pad=0):
    w = s.rng.normal(0, s.gain * np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k))
    return Module(f"{'cudnn' if s.cudnn else 'nn'}.SpatialConvolution",
                  {"nInputPlane": cin, "nOutputPlane": cout, "kW": k, "kH": k, "dW": stride, "dH": stride,
                   "padW": pad, "padH": pad, "weight": _t(s, w), "bias": _t(s, s.rng.normal(0, 0.1, cout)),
                   "train": False})


def bn(s, c, eps=1e-5):
    var = s.rng.uniform(0.5, 2.0, c)
    fields = {"eps": eps, "momentum": 0.1, "affine": True, "train": False,
              "running_mean": _t(s, s.rng.normal(0, 0.2, c)),
              "weight": _t(s, s.rng.uniform(0.5, 1.5, c)), "bias": _t(s, s.rng.normal(0, 0.2, c))}
    if s.running_std:
        fields["running_std"] = _t(s, 1.0 / np.sqrt(var + eps))
    else:
        fields["running_var"] = _t(s, var)
    return Module(f"{'cudnn' if s.cudnn else 'nn'}.SpatialBatchNormalization", fields)


def relu(s):
    return Module(f"{'cudnn' if s.cudnn else 'nn'}.ReLU", {"inplace": True, "threshold": 0, "val": 0})


def seq(*mods):
    return Module("nn.Sequential", {"modules": list(mods), "train": False})


def concat(*mods):
    return Module("nn.ConcatTable", {"modules": list(mods)})


def cadd():
    return Module("nn.CAddTable", {"inplace": False})


def identity():
    return Module("nn.Identity", {})


def maxpool(s):
    fields = {"kW": 2, "kH": 2, "dW": 2, "dH": 2, "padW": 0, "padH": 0, "ceil_mode": False}
    if s.kind == "Cuda":  # a model saved from the GPU keeps its pooling indices as CUDA longs
        fields["indices"] = Tensor(np.zeros((1, 2, 2), np.int64), "CudaLong")
    return Module("nn.SpatialMaxPooling", fields)


def up_nearest(scale=2):
    return Module("nn.SpatialUpSamplingNearest", {"scale_factor": scale})


def up_bilinear(size=None, scale=None):
    return Module("nn.SpatialUpSamplingBilinear",
                  {"oheight": size, "owidth": size} if size else {"scale_factor": scale})


def sigmoid():
    return Module("nn.Sigmoid", {})


def residual(s, cin, cout):
    mid = cout // 2
    body = seq(bn(s, cin), relu(s), conv(s, cin, mid), bn(s, mid), relu(s), conv(s, mid, mid, 3, 1, 1),
               bn(s, mid), relu(s), conv(s, mid, cout))
    return seq(concat(body, identity() if cin == cout else seq(conv(s, cin, cout))), cadd())


def cbr(s, c):
    return seq(conv(s, c, c), bn(s, c), relu(s))


def level(s, depth, f=256):
    """One level of the authors' hourglass, as their graph spells it."""
    upper = [residual(s, f, f) for _ in range(3)] + ([seq(*level(s, depth - 1, f))] if depth > 1 else [])
    lower = [maxpool(s)] + [residual(s, f, f) for _ in range(6 if depth > 1 else 9)] + [up_nearest(2)]
    return [concat(seq(*upper), seq(*lower)), cadd(), residual(s, f, f)]


def authors_vrn(s, f=256, depth=200, size=192, scale=None):
    """vrn-unguided.t7's tree (module for module, with random weights and batch statistics); its
    last upsampling spelled with (oheight, owidth) = `size`, or with `scale` when given (4: the
    spelling the public ports of the file imply)."""
    stack = lambda: concat(identity(), seq(*level(s, 4, f), cbr(s, f), cbr(s, f)))  # noqa: E731
    return seq(conv(s, 3, 64, 7, 2, 3), bn(s, 64), relu(s), residual(s, 64, 128), maxpool(s),
               residual(s, 128, 128), residual(s, 128, f), stack(), cadd(), stack(), cadd(),
               concat(seq(cbr(s, f), conv(s, f, depth), up_bilinear(size=None if scale else size, scale=scale),
                          sigmoid())))


# --- the reference: a numpy interpreter of the tree ------------------------------------------

def _conv(x, m):
    w = m.fields["weight"].array.astype(np.float64)
    k, stride, pad = m.fields["kH"], m.fields["dH"], m.fields["padH"]
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    c, h, wd = x.shape
    oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    cols = np.empty((c, k, k, oh, ow))
    for i in range(k):
        for j in range(k):
            cols[:, i, j] = x[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
    out = w.reshape(len(w), -1) @ cols.reshape(-1, oh * ow)
    return out.reshape(-1, oh, ow) + m.fields["bias"].array.astype(np.float64)[:, None, None]


def _bilinear(x, oh, ow):
    """Torch7's SpatialUpSamplingBilinear: corners aligned."""
    c, h, w = x.shape
    ys = np.arange(oh) * ((h - 1) / (oh - 1) if oh > 1 else 0)
    xs = np.arange(ow) * ((w - 1) / (ow - 1) if ow > 1 else 0)
    y0, x0 = np.minimum(ys.astype(int), h - 2), np.minimum(xs.astype(int), w - 2)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    a, b = x[:, y0][:, :, x0], x[:, y0][:, :, x0 + 1]
    cc, d = x[:, y0 + 1][:, :, x0], x[:, y0 + 1][:, :, x0 + 1]
    return a * (1 - fy) * (1 - fx) + b * (1 - fy) * fx + cc * fy * (1 - fx) + d * fy * fx


def forward(m, x):
    """The tree's output for one (C, H, W) float64 image."""
    kind = m.name.split(".")[-1]
    f = m.fields
    if kind == "Sequential":
        for child in f["modules"]:
            x = forward(child, x)
        return x
    if kind == "ConcatTable":
        return [forward(child, x) for child in f["modules"]]
    if kind == "CAddTable":
        return np.sum(x, axis=0)
    if kind == "Identity":
        return x
    if kind == "SpatialConvolution":
        return _conv(x, m)
    if kind == "SpatialBatchNormalization":
        mean = f["running_mean"].array.astype(np.float64)
        inv = (f["running_std"].array.astype(np.float64) if "running_std" in f
               else 1 / np.sqrt(f["running_var"].array.astype(np.float64) + f["eps"]))
        return ((x - mean[:, None, None]) * inv[:, None, None] * f["weight"].array.astype(np.float64)[:, None, None]
                + f["bias"].array.astype(np.float64)[:, None, None])
    if kind == "ReLU":
        return np.maximum(x, 0)
    if kind == "SpatialMaxPooling":
        c, h, w = x.shape
        return x[:, :h // 2 * 2, :w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))
    if kind == "SpatialUpSamplingNearest":
        s = f["scale_factor"]
        return x.repeat(s, axis=1).repeat(s, axis=2)
    if kind == "SpatialUpSamplingBilinear":
        if f.get("oheight"):
            return _bilinear(x, f["oheight"], f["owidth"])
        s = f["scale_factor"]  # torch/nn's setSize since 2016-10: the size times the scale
        return _bilinear(x, x.shape[1] * s, x.shape[2] * s)
    if kind == "Sigmoid":
        return 1 / (1 + np.exp(-x))
    raise ValueError(m.name)
