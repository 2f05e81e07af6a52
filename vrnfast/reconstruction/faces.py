"""Faces in photos: dlib's detectors and its 68-point shape predictor (the optional extra "faces":
`pip install 'vrnfast[faces]'`, i.e. dlib-bin and face-recognition-models, which ships the model
files).

    faces = vrnfast.faces.detect("photo.jpg")         # sorted left to right
    faces[0].box, faces[0].landmarks, faces[0].score

Landmarks are (68, 2) image pixels in iBUG order, pixel centres at integers (the datasets'
convention, vrnfast.data.crop's). Detectors: "hog" (dlib's frontal HOG + SVM detector), "cnn"
(its MMOD CNN, which finds more of the large poses VRN is made for but takes about a second per
photo on a CPU core) and "auto": HOG, then the CNN on a smaller copy when HOG finds nothing.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import _optional

DETECTORS = ("auto", "hog", "cnn")
EXTRA_HINT = _optional.hint("faces")

# Scores below these are not faces. Measured on scikit-image's photos and textures and on the
# 300W-LP sample: HOG scored real faces 1.16-2.08 (0.55 for one rotated 15 degrees) and non-faces
# at most 0.12 (a glove in data.astronaut()); the CNN scored faces 1.04-1.10 and found no
# non-face at all.
MIN_SCORE = {"hog": 0.3, "cnn": 0.3}
# Photos are searched on a copy whose long side is at most this (HOG on 960 x 540: 44 ms on one
# core of a 2-core AMD EPYC VM, against 174 ms at 1920 x 1080, finding the same faces down to
# about 160 pixels of the original); the results are mapped back to full resolution.
HOG_SEARCH_SIDE = 960
HOG_UPSAMPLE_BELOW = 480  # search images this small are searched at twice the size too (faces >= 40 px)
CNN_SEARCH_SIDE = 320  # the CNN's fallback search: 0.75 s there, 1.6 s at 450 x 450
# No detector finds a face under 40 pixels, and dlib's CNN raises on images under about 10 pixels,
# or aborts the whole process (an exception on one of its threads, seen on 300 x 9 and on a second
# 5 x 5 image): images and search copies narrower than this are not given to dlib at all.
MIN_SEARCH_SIDE = 40


class FacesUnavailable(_optional.MissingExtra):
    """Face detection needs the optional extra "faces"."""


@dataclass(frozen=True)
class Face:
    """box: (x, y, w, h) pixel edges; landmarks: (68, 2) float32 pixel centres; score: the
    detector's (HOG: SVM margin; CNN: confidence); detector: "hog" or "cnn"."""
    box: tuple
    landmarks: np.ndarray
    score: float
    detector: str


def available() -> bool:
    return _optional.installed("faces") and _models_dir() is not None


def _models_dir():
    # face_recognition_models' __init__ imports pkg_resources, which new setuptools no longer has:
    # find its files without importing it
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "models"
    return d if (d / "shape_predictor_68_face_landmarks.dat").exists() else None


@lru_cache(maxsize=None)
def _dlib():
    dlib = _optional.import_extra("dlib", "faces", "face detection needs dlib", FacesUnavailable)
    models = _models_dir()
    if models is None:
        raise FacesUnavailable(f"face detection needs dlib's model files (face-recognition-models): {EXTRA_HINT}")
    return dlib, models


@lru_cache(maxsize=None)
def _hog():
    dlib, _ = _dlib()
    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=None)
def _cnn():
    dlib, models = _dlib()
    return dlib.cnn_face_detection_model_v1(str(models / "mmod_human_face_detector.dat"))


@lru_cache(maxsize=None)
def _predictor():
    dlib, models = _dlib()
    return dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))


def _search_copy(image, side):
    """(image downscaled so its long side is at most `side`, its scale factor)."""
    h, w = image.shape[:2]
    s = min(1.0, side / max(h, w))
    if s == 1.0:
        return image, 1.0
    from PIL import Image

    small = Image.fromarray(image).resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
    return np.asarray(small), s


def _boxes_hog(image):
    small, s = _search_copy(image, HOG_SEARCH_SIDE)
    if min(small.shape[:2]) < MIN_SEARCH_SIDE:
        return []
    upsample = 1 if max(small.shape[:2]) <= HOG_UPSAMPLE_BELOW else 0
    rects, scores, _ = _hog().run(small, upsample, 0.0)
    return [(r, float(sc), s) for r, sc in zip(rects, scores) if sc >= MIN_SCORE["hog"]]


def _boxes_cnn(image, side):
    small, s = _search_copy(image, side)
    if min(small.shape[:2]) < MIN_SEARCH_SIDE:
        return []
    return [(m.rect, float(m.confidence), s) for m in _cnn()(small, 0) if m.confidence >= MIN_SCORE["cnn"]]


def detect(image, detector="auto") -> list[Face]:
    """The faces in an image (a path, or an (H, W, 3) / (3, H, W) uint8 array or tensor), sorted
    left to right, each with its 68 landmarks (found on the full-resolution image)."""
    from ..io import load_image

    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")
    dlib, _ = _dlib()
    img = load_image(image)
    found, used = [], detector
    if detector in ("auto", "hog"):
        found, used = _boxes_hog(img), "hog"
    if detector == "cnn" or (detector == "auto" and not found):
        found, used = _boxes_cnn(img, CNN_SEARCH_SIDE if detector == "auto" else HOG_SEARCH_SIDE), "cnn"
    faces = []
    for rect, score, s in found:
        x0, y0 = rect.left() / s, rect.top() / s
        x1, y1 = (rect.right() + 1) / s, (rect.bottom() + 1) / s  # dlib's right/bottom are inclusive
        full = dlib.rectangle(round(x0), round(y0), round(x1) - 1, round(y1) - 1)
        shape = _predictor()(img, full)
        landmarks = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
        faces.append(Face((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), landmarks, score, used))
    return sorted(faces, key=lambda f: f.box[0])
