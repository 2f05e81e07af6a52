"""Square face crops: the one map between an image's pixels and the network's input, shared by
`vrnfast prepare` (making training samples) and `vrnfast reconstruct` (meshing new images).

Pixel centres are at integers (pixel i spans [i - 0.5, i + 0.5]); a Crop's box is given in pixel
edges (pixel i spans [i, i + 1]), as Pillow crops. numpy and Pillow only: no torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

VRN_FACE_FRACTION = 90 / 192  # VRN's crops (its demo's run.sh): the face box's sqrt(w h), 90 of 192 pixels
# Where the square sits on the face box: "centred" (vrnfast's training crops and its own models), or
# "vrn-run.sh", the authors' demo: its top-left corner at (x - w/2, y - h/2) of the landmarks' box,
# what their released model was demonstrated on (a converted checkpoint carries it).
CROP_RULES = ("centred", "vrn-run.sh")


@dataclass(frozen=True)
class Crop:
    """The square [x, x + side] x [y, y + side] (pixel edges) of an image, seen at size x size."""
    x: float
    y: float
    side: float
    size: int

    @property
    def scale(self):
        return self.size / self.side

    def from_image(self, pts):
        """Image pixels (x, y, z) -> crop pixels; z is scaled like x and y."""
        pts = np.asarray(pts)
        out = np.empty(pts.shape, np.result_type(pts.dtype, np.float32))
        out[:, 0] = (pts[:, 0] - self.x + 0.5) * self.scale - 0.5
        out[:, 1] = (pts[:, 1] - self.y + 0.5) * self.scale - 0.5
        out[:, 2:] = pts[:, 2:] * self.scale
        return out

    def to_image(self, pts):
        """Crop pixels (x, y, z) -> image pixels; the inverse of from_image."""
        pts = np.asarray(pts)
        out = np.empty(pts.shape, np.result_type(pts.dtype, np.float32))
        out[:, 0] = self.x + (pts[:, 0] + 0.5) / self.scale - 0.5
        out[:, 1] = self.y + (pts[:, 1] + 0.5) / self.scale - 0.5
        out[:, 2:] = pts[:, 2:] / self.scale
        return out

    def resize(self, image) -> np.ndarray:
        """(size, size, 3) uint8 of an (H, W, 3) uint8 image: the square (black outside the image),
        resized with Pillow's antialiasing bilinear filter."""
        from PIL import Image

        x0, y0 = math.floor(self.x), math.floor(self.y)
        x1, y1 = math.ceil(self.x + self.side), math.ceil(self.y + self.side)
        padded = Image.fromarray(image).crop((x0, y0, x1, y1))  # Pillow fills outside the image with 0
        box = (self.x - x0, self.y - y0, self.x - x0 + self.side, self.y - y0 + self.side)
        return np.asarray(padded.resize((self.size, self.size), Image.BILINEAR, box=box))


def centred_crop(shape_hw, size) -> Crop:
    """The centred largest square of an (H, W) image."""
    h, w = shape_hw
    side = min(h, w)
    return Crop((w - side) / 2, (h - side) / 2, float(side), size)


def face_crop(box, shape_hw, size, face_fraction=VRN_FACE_FRACTION, name="bbox", rule="centred") -> Crop:
    """The square of a face box (x, y, w, h in pixel edges) whose sqrt(w h) is `face_fraction` of
    its side: centred on the box, as training crops are made, or placed by the authors' demo rule
    ("vrn-run.sh": the image scaled by s = face_fraction * size / sqrt(w h), the size x size crop
    from ((x - w/2) s, (y - h/2) s), i.e. the square of side size / s from (x - w/2, y - h/2)).
    ValueError naming `name` for a box that is not finite, empty, outside the image or absurdly
    large."""
    if rule not in CROP_RULES:
        raise ValueError(f"rule must be one of {CROP_RULES}, got {rule!r}")
    if len(box) != 4 or not all(np.isfinite(box)):
        raise ValueError(f"{name} must be 4 finite numbers (x, y, w, h), got {box!r}")
    x, y, w, h = (float(v) for v in box)
    ih, iw = shape_hw
    if w <= 0 or h <= 0:
        raise ValueError(f"{name} width and height must be > 0, got {box!r}")
    if x + w <= 0 or y + h <= 0 or x >= iw or y >= ih:
        raise ValueError(f"{name} {box!r} lies outside the {iw}x{ih} image")
    side = math.sqrt(w * h) / face_fraction
    if side > 8 * max(ih, iw):
        raise ValueError(f"{name} {box!r} makes a crop of {side:.0f} pixels, far larger than the {iw}x{ih} image")
    if rule == "vrn-run.sh":
        return Crop(x - w / 2, y - h / 2, side, size)
    return Crop(x + w / 2 - side / 2, y + h / 2 - side / 2, side, size)


def landmark_box(landmarks_xy):
    """The face box (x, y, w, h, pixel edges) spanned by landmark pixel centres."""
    lo, hi = np.min(landmarks_xy, 0), np.max(landmarks_xy, 0)
    w, h = np.maximum(hi - lo, 1.0)
    return float(lo[0] + 0.5), float(lo[1] + 0.5), float(w), float(h)
