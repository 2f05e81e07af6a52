"""VRN, VRN-Guided and VRN-Multitask (Jackson et al., ICCV 2017), and their size presets.

Every model maps images (B, 3, S, S) to a dict of outputs, all of which are supervised:
  "volume":    list of (B, D, S, S) logits (D depth slices: the volume's channels)
  "landmarks": list of (B, 68, S/2, S/2) heatmap logits (Guided, Multitask; [] for VRN)

Two designs (Preset.design):
  "authors": the authors' released VRN, module for module (hourglass.AuthorsStackedHourglass):
             quarter resolution, nested hourglass levels, stacks added to their input, one head
             (one output per list); logits upsampled 4x, bilinear with aligned corners as Torch7's
             SpatialUpSamplingBilinear. The paper preset.
  "newell":  Newell et al.'s stacked hourglass (hourglass.StackedHourglass): half resolution, a
             head per stack (one output per stack), upsampled 2x (bilinear). The smaller presets.
Landmark heatmaps are at half resolution in both (the authors' design upsamples them 2x).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .hourglass import AuthorsStackedHourglass, StackedHourglass
from .names import MODELS, PRESET_NAMES

NUM_LANDMARKS = 68


@dataclass(frozen=True)
class Preset:
    image_size: int     # S: input images are S x S; the volume is D x S x S
    depth: int          # D: depth slices of the volume
    features: int       # channels of the residual modules (256 in the paper)
    stacks: int         # hourglasses in the volume network
    hourglass_depth: int
    guide_stacks: int   # hourglasses in VRN-Guided's landmark network
    design: str = "newell"  # "authors" (their released network's) or "newell" (see above)

    @property
    def stride(self) -> int:
        """Input pixels per pixel of the hourglasses."""
        return 4 if self.design == "authors" else 2


DESIGNS = ("authors", "newell")
PRESETS = {
    "paper": Preset(image_size=192, depth=200, features=256, stacks=2, hourglass_depth=4, guide_stacks=2,
                    design="authors"),
    "small": Preset(image_size=128, depth=128, features=128, stacks=2, hourglass_depth=4, guide_stacks=1),
    "tiny": Preset(image_size=64, depth=64, features=64, stacks=2, hourglass_depth=3, guide_stacks=1),
}
assert set(PRESETS) == set(PRESET_NAMES)


def _upsample(logits, size, aligned=False):
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=aligned)


def _trunk(preset: Preset, cin, cout, stacks):
    cls = AuthorsStackedHourglass if preset.design == "authors" else StackedHourglass
    return cls(cin, cout, preset.features, stacks, preset.hourglass_depth)


def upsample_volume(preset: Preset, logits, size):
    """A volume's logits at the trunk's resolution -> at the image's `size` (H, W), as the network's
    last step does it (bilinear; corners aligned for the authors' design, as Torch7's)."""
    return _upsample(logits, size, aligned=preset.design == "authors")


def _volumes(preset: Preset, logits, size, upsample=True):
    return [upsample_volume(preset, v, size) for v in logits] if upsample else list(logits)


def _heatmaps(preset: Preset, logits, size):
    half = (size[0] // 2, size[1] // 2)
    return [h if h.shape[-2:] == half else _upsample(h, half) for h in logits]


class VRN(nn.Module):
    """The volume alone, regressed directly from the image."""

    def __init__(self, preset: Preset):
        super().__init__()
        self.preset = preset
        self.net = _trunk(preset, 3, preset.depth, preset.stacks)

    def forward(self, image, upsample=True):
        """{"volume": [logits (B, D, S, S)] per supervised stack, "landmarks": []}; with upsample=False
        the volumes stay at the trunk's resolution (upsample_volume does the rest)."""
        return {"volume": _volumes(self.preset, self.net(image), image.shape[-2:], upsample), "landmarks": []}


class VRNGuided(nn.Module):
    """A landmark hourglass regresses 68 heatmaps; stacked with the image they guide the volume
    network."""

    def __init__(self, preset: Preset):
        super().__init__()
        self.preset = preset
        self.guide = _trunk(preset, 3, NUM_LANDMARKS, preset.guide_stacks)
        self.net = _trunk(preset, 3 + NUM_LANDMARKS, preset.depth, preset.stacks)

    def forward(self, image, upsample=True):
        size = image.shape[-2:]
        heatmaps = _heatmaps(self.preset, self.guide(image), size)
        guide = _upsample(torch.sigmoid(heatmaps[-1]), size)
        volumes = self.net(torch.cat([image, guide], dim=1))
        return {"volume": _volumes(self.preset, volumes, size, upsample), "landmarks": heatmaps}


class VRNMultitask(nn.Module):
    """One trunk, two heads per stack: the volume and the 68 landmark heatmaps."""

    def __init__(self, preset: Preset):
        super().__init__()
        self.preset = preset
        self.net = _trunk(preset, 3, preset.depth + NUM_LANDMARKS, preset.stacks)

    def forward(self, image, upsample=True):
        size = image.shape[-2:]
        outs = self.net(image)
        d = self.preset.depth
        return {"volume": _volumes(self.preset, [o[:, :d] for o in outs], size, upsample),
                "landmarks": _heatmaps(self.preset, [o[:, d:] for o in outs], size)}


_CLASSES = {"vrn": VRN, "guided": VRNGuided, "multitask": VRNMultitask}


INPUT_RANGES = ("-1..1", "0..1")


def normalize_images(images: torch.Tensor, input_range: str = "-1..1") -> torch.Tensor:
    """uint8 images (0..255) -> the networks' float input: [-1, 1] (vrnfast's training), or
    [0, 1] (the authors' released model, converted by vrnfast convert)."""
    if input_range == "0..1":
        return images.float() / 255.0
    if input_range != "-1..1":
        raise ValueError(f"input_range must be one of {INPUT_RANGES}, got {input_range!r}")
    return images.float() / 127.5 - 1.0


def build_model(name: str, preset: str | Preset = "tiny") -> nn.Module:
    """One of MODELS at one of PRESETS (or a custom Preset)."""
    if name not in _CLASSES:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
        preset = PRESETS[preset]
    if preset.design not in DESIGNS:
        raise ValueError(f"preset design must be one of {DESIGNS}, got {preset.design!r}")
    min_size = 2 << preset.hourglass_depth if preset.design == "newell" else 8
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
