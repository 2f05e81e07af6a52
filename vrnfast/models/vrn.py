"""VRN, VRN-Guided and VRN-Multitask (Jackson et al., ICCV 2017), and their size presets.

Every model maps images (B, 3, S, S) to a dict of per-stack outputs, all of which are supervised:
  "volume":    list of (B, D, S, S) logits (D depth slices: the volume's channels)
  "landmarks": list of (B, 68, S/2, S/2) heatmap logits (Guided, Multitask; [] for VRN)
The hourglasses run at half the input resolution; volume logits are upsampled 2x (bilinear).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .hourglass import StackedHourglass

NUM_LANDMARKS = 68


@dataclass(frozen=True)
class Preset:
    image_size: int     # S: input images are S x S; the volume is D x S x S
    depth: int          # D: depth slices of the volume
    features: int       # channels of the residual modules (256 in the paper)
    stacks: int         # hourglasses in the volume network
    hourglass_depth: int
    guide_stacks: int   # hourglasses in VRN-Guided's landmark network


PRESETS = {
    "paper": Preset(image_size=192, depth=200, features=256, stacks=2, hourglass_depth=4, guide_stacks=2),
    "small": Preset(image_size=128, depth=128, features=128, stacks=2, hourglass_depth=4, guide_stacks=1),
    "tiny": Preset(image_size=64, depth=64, features=64, stacks=2, hourglass_depth=3, guide_stacks=1),
}
MODELS = ("vrn", "guided", "multitask")


def _upsample(logits, size):
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


class VRN(nn.Module):
    """The volume alone, regressed directly from the image."""

    def __init__(self, preset: Preset):
        super().__init__()
        self.preset = preset
        self.net = StackedHourglass(3, preset.depth, preset.features, preset.stacks, preset.hourglass_depth)

    def forward(self, image):
        size = image.shape[-2:]
        return {"volume": [_upsample(v, size) for v in self.net(image)], "landmarks": []}


class VRNGuided(nn.Module):
    """A landmark hourglass regresses 68 heatmaps; stacked with the image they guide the volume
    network."""

    def __init__(self, preset: Preset):
        super().__init__()
        self.preset = preset
        self.guide = StackedHourglass(3, NUM_LANDMARKS, preset.features, preset.guide_stacks, preset.hourglass_depth)
        self.net = StackedHourglass(3 + NUM_LANDMARKS, preset.depth, preset.features, preset.stacks,
                                    preset.hourglass_depth)

    def forward(self, image):
        size = image.shape[-2:]
        heatmaps = self.guide(image)
        guide = _upsample(torch.sigmoid(heatmaps[-1]), size)
        volumes = self.net(torch.cat([image, guide], dim=1))
        return {"volume": [_upsample(v, size) for v in volumes], "landmarks": heatmaps}


class VRNMultitask(nn.Module):
    """One trunk, two heads per stack: the volume and the 68 landmark heatmaps."""

    def __init__(self, preset: Preset):
        super().__init__()
        self.preset = preset
        self.net = StackedHourglass(3, preset.depth + NUM_LANDMARKS, preset.features, preset.stacks,
                                    preset.hourglass_depth)

    def forward(self, image):
        size = image.shape[-2:]
        outs = self.net(image)
        d = self.preset.depth
        return {"volume": [_upsample(o[:, :d], size) for o in outs], "landmarks": [o[:, d:] for o in outs]}


_CLASSES = {"vrn": VRN, "guided": VRNGuided, "multitask": VRNMultitask}


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (0..255) -> the networks' float input in [-1, 1]."""
    return images.float() / 127.5 - 1.0


def build_model(name: str, preset: str | Preset = "tiny") -> nn.Module:
    """One of MODELS at one of PRESETS (or a custom Preset)."""
    if name not in _CLASSES:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
        preset = PRESETS[preset]
    min_size = 2 << preset.hourglass_depth
    if preset.image_size % min_size:
        raise ValueError(f"image_size {preset.image_size} must be a multiple of {min_size} for hourglass depth "
                         f"{preset.hourglass_depth}")
    return _CLASSES[name](preset)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(name: str, preset: str) -> dict:
    """Parameter count and output shapes of a model at a preset (shapes traced on the meta device,
    so even the paper preset costs no memory)."""
    p = PRESETS[preset]
    with torch.device("meta"):
        model = build_model(name, preset).eval()  # eval: train-mode batch norm is slow to trace on meta
        out = model(torch.empty(1, 3, p.image_size, p.image_size))
    return {"model": name, "preset": preset, **asdict(p), "parameters": parameter_count(model),
            "volume": [tuple(v.shape) for v in out["volume"]],
            "landmarks": [tuple(v.shape) for v in out["landmarks"]]}
