"""Photos in, one framed face per reconstruction: how `vrnfast reconstruct` finds and frames the
faces of an image, and the record it writes beside each mesh.

A face is framed by its 68 landmarks with the rule `vrnfast prepare` uses for the training data
(vrnfast.data.crop), so a photo is cropped like a training sample: the landmarks come from
vrnfast.reconstruction.faces (dlib), from a file (`--landmarks`), or a face box is given (`--bbox`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

# A face is too small to frame when its crop would enlarge the photo more than this for the
# network (the tiny preset's 64-pixel input takes a crop of 16 pixels or more, the paper's
# 192-pixel input one of 48); a detected face (dlib finds them from about 40 pixels, whose crop
# is 85) is never that small.
MAX_UPSCALE = 4.0
# A video's frames in a row where no face was found that are framed by the last faces found;
# after that, frames without a face are skipped until one is found again.
TRACK_FRAMES = 5


@dataclass
class Framing:
    """How one face of an image is framed: by `landmarks` (68, 2), else by `box` (x, y, w, h), else
    (both None) the centred square; `detector` says where they came from."""
    detector: str  # "hog" | "cnn" | "landmarks" | "bbox" | "none"
    box: tuple | None = None
    landmarks: np.ndarray | None = None
    score: float | None = None
    tracked: bool = False  # a video frame without a face found, framed by an earlier frame's face


def load_landmarks(path) -> np.ndarray:
    """68 (x, y) image pixels from a .txt (a line per point, "x y" or "x,y"), .npy or .json (a list
    of 68 [x, y], or an object holding one under "landmarks", as the records written here do)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            pts = np.load(path)
        elif path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            pts = data["landmarks"] if isinstance(data, dict) else data
        else:
            rows = [line.replace(",", " ").split() for line in path.read_text().splitlines() if line.strip()]
            pts = [[float(v) for v in row] for row in rows]
        pts = np.asarray(pts, np.float64)
    except FileNotFoundError:
        raise ValueError(f"--landmarks {path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"--landmarks {path}: cannot read 68 (x, y) points ({type(e).__name__}: {e})") from None
    if pts.shape != (68, 2) or not np.isfinite(pts).all():
        raise ValueError(f"--landmarks {path}: needs 68 finite (x, y) points, got an array of shape {pts.shape}")
    return pts


def find_faces(image, detector="auto", which="all") -> list[Framing]:
    """The faces of a loaded image, left to right (`which` "largest": the one of largest box)."""
    from . import faces

    found = [Framing(f.detector, f.box, f.landmarks, f.score) for f in faces.detect(image, detector)]
    if which == "largest" and found:
        found = [max(found, key=lambda f: f.box[2] * f.box[3])]
    return found


def too_small(crop) -> str | None:
    """Why a face's Crop is too small to frame (MAX_UPSCALE), or None."""
    if crop.side * MAX_UPSCALE < crop.size:
        return (f"face too small to frame (its crop is {crop.side:.0f} pixels of the photo; the network's "
                f"{crop.size}-pixel input needs at least {crop.size / MAX_UPSCALE:.0f})")
    return None


class FaceFinder:
    """The Framings of each Frame (vrnfast.reconstruction.sources): the given box or landmarks, the centred
    square (detector "none"), or the faces found; in a video, a frame without a face found is
    framed by the last frame's faces (tracked) for up to TRACK_FRAMES frames in a row."""

    def __init__(self, detector="auto", which="all", bbox=None, landmarks=None):
        self.detector, self.which = detector, which
        self.given = ([Framing("bbox", box=tuple(bbox))] if bbox is not None else
                      [Framing("landmarks", landmarks=landmarks)] if landmarks is not None else
                      [Framing("none")] if detector == "none" else None)
        self._last = {}  # a video's Source -> (its last faces found, frames tracked since)

    def __call__(self, frame) -> list[Framing]:
        if self.given is not None:
            return list(self.given)
        found = find_faces(frame.image, self.detector, self.which)
        if frame.index is None:
            return found
        if found:
            self._last[frame.source] = (found, 0)
            return found
        last, run = self._last.get(frame.source, (None, 0))
        if last is None or run >= TRACK_FRAMES:
            return []
        self._last[frame.source] = (last, run + 1)
        return [replace(f, tracked=True) for f in last]


def crop_matrix(crop) -> list:
    """The 2x3 map from image pixels to network-input pixels of a Crop (u = s x + tx, v = s y + ty)."""
    s = crop.scale
    return [[s, 0.0, (0.5 - crop.x) * s - 0.5], [0.0, s, (0.5 - crop.y) * s - 0.5]]


def record(image_path, image_shape, index, framing, crop, mesh, files, seconds, frame=None) -> dict:
    """The JSON record written beside a face's mesh (`frame`: its number in a video)."""
    def listed(a):
        return None if a is None else np.round(np.asarray(a, np.float64), 3).tolist()

    return {"image": str(image_path), "frame": frame, "image_size": [int(image_shape[1]), int(image_shape[0])], "face": index,
            "detector": framing.detector, "score": framing.score,
            "box": None if framing.box is None else [round(float(v), 3) for v in framing.box],
            "landmarks": listed(framing.landmarks), "crop": crop_matrix(crop),
            "landmarks_3d": listed(mesh.landmarks_3d), "mesh": [str(f) for f in files],
            "vertices": int(len(mesh.verts)), "faces": int(len(mesh.faces)),
            "seconds": {k: round(v, 5) for k, v in seconds.items()}, "tracked": framing.tracked}
