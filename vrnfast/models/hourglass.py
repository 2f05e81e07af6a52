"""Stacked hourglass building blocks (Newell et al., ECCV 2016), as VRN uses them."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class Residual(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-1x1 (out/2), BN-ReLU-3x3 (out/2), BN-ReLU-1x1 (out), plus a
    1x1 projection of the input when the channel count changes."""

    def __init__(self, cin, cout):
        super().__init__()
        mid = cout // 2
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, mid, 1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    """One hourglass of `depth` halvings: at every level a residual branch at this resolution plus
    max-pool -> residual -> (inner hourglass) -> residual -> nearest 2x upsampling."""

    def __init__(self, depth, features):
        super().__init__()
        self.up = Residual(features, features)
        self.down = Residual(features, features)
        self.inner = Hourglass(depth - 1, features) if depth > 1 else Residual(features, features)
        self.after = Residual(features, features)

    def forward(self, x):
        low = self.after(self.inner(self.down(F.max_pool2d(x, 2))))
        return self.up(x) + F.interpolate(low, scale_factor=2, mode="nearest")


class StackedHourglass(nn.Module):
    """Stem (7x7 stride-2 conv and residuals, to half resolution), then `stacks` hourglasses, each
    with its own 1x1 head of `out_channels`; every stack's output is returned (all are supervised)
    and fed back into the next stack, as in Newell et al."""

    def __init__(self, in_channels, out_channels, features, stacks, depth):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            Residual(64, 128), Residual(128, 128), Residual(128, features))
        self.hourglasses = nn.ModuleList(Hourglass(depth, features) for _ in range(stacks))
        self.features = nn.ModuleList(
            nn.Sequential(Residual(features, features), nn.Conv2d(features, features, 1), nn.BatchNorm2d(features),
                          nn.ReLU(inplace=True)) for _ in range(stacks))
        self.heads = nn.ModuleList(nn.Conv2d(features, out_channels, 1) for _ in range(stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(features, features, 1) for _ in range(stacks - 1))
        self.merge_heads = nn.ModuleList(nn.Conv2d(out_channels, features, 1) for _ in range(stacks - 1))
        self.depth = depth

    def forward(self, x) -> list[torch.Tensor]:
        if x.shape[-1] % (2 << self.depth) or x.shape[-2] % (2 << self.depth):
            raise ValueError(f"input height and width must be multiples of {2 << self.depth}, got "
                             f"{tuple(x.shape[-2:])}")
        x = self.stem(x)
        outputs = []
        for i, (hg, feat, head) in enumerate(zip(self.hourglasses, self.features, self.heads)):
            f = feat(hg(x))
            out = head(f)
            outputs.append(out)
            if i < len(self.merge_heads):
                x = x + self.merge_features[i](f) + self.merge_heads[i](out)
        return outputs


# --- The authors' released VRN (vrn-unguided.t7), module for module -------------------------------
# Its hourglass differs from Newell's: every level nests the next one inside its FULL-resolution
# branch, after three residual modules, while its pooled branch pools once, runs its own residual
# modules (six; nine at the innermost level) and upsamples back. Nothing runs below half the
# hourglass's input resolution. Stacks are added to their own input, and one head ends the network.

AUTHORS_UPPER_RESIDUALS = 3
AUTHORS_LOWER_RESIDUALS = 6
AUTHORS_INNERMOST_LOWER_RESIDUALS = 9


def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class NestedHourglass(nn.Module):
    """One level of the authors' hourglass (see above); `depth` levels in all."""

    def __init__(self, depth, features):
        super().__init__()
        self.upper = nn.Sequential(*(Residual(features, features) for _ in range(AUTHORS_UPPER_RESIDUALS)))
        self.inner = NestedHourglass(depth - 1, features) if depth > 1 else nn.Identity()
        lower = AUTHORS_LOWER_RESIDUALS if depth > 1 else AUTHORS_INNERMOST_LOWER_RESIDUALS
        self.lower = nn.Sequential(*(Residual(features, features) for _ in range(lower)))
        self.after = Residual(features, features)

    def forward(self, x):
        low = F.interpolate(self.lower(F.max_pool2d(x, 2)), scale_factor=2, mode="nearest")
        return self.after(self.inner(self.upper(x)) + low)


class AuthorsStackedHourglass(nn.Module):
    """The authors' network up to its logits, at a quarter of the input resolution: a 7x7 stride-2
    stem with a max-pool among its residual modules; `stacks` hourglasses, each followed by two 1x1
    conv-BN-ReLU layers and added to its own input; one head (1x1 conv-BN-ReLU, 1x1 conv to
    `out_channels`). Returns [logits] (one output: only the last stack is supervised)."""

    def __init__(self, in_channels, out_channels, features, stacks, depth):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            Residual(64, 128), nn.MaxPool2d(2), Residual(128, 128), Residual(128, features))
        self.stacks = nn.ModuleList(
            nn.Sequential(NestedHourglass(depth, features), conv_bn_relu(features, features),
                          conv_bn_relu(features, features)) for _ in range(stacks))
        self.head = nn.Sequential(conv_bn_relu(features, features), nn.Conv2d(features, out_channels, 1))
        self.depth = depth

    @property
    def stride(self):
        return 4  # input pixels per output pixel

    def forward(self, x) -> list[torch.Tensor]:
        multiple = 4 << 1  # the stem's /4, then the hourglass's one pooling
        if x.shape[-1] % multiple or x.shape[-2] % multiple:
            raise ValueError(f"input height and width must be multiples of {multiple}, got {tuple(x.shape[-2:])}")
        x = self.stem(x)
        for stack in self.stacks:
            x = x + stack(x)
        return [self.head(x)]
