"""The optional extras (setup.py's extras_require): whether one is installed, looked up without
importing it, and the one error that names what to install."""
from __future__ import annotations

import importlib.util
from functools import lru_cache

# extra -> (what it brings, as its hint says it; the modules it provides)
EXTRAS = {
    "faces": ("dlib-bin and face-recognition-models", ("dlib", "face_recognition_models")),
    "video": ("imageio and imageio-ffmpeg", ("imageio", "imageio_ffmpeg")),
    "convert": ("torchfile", ("torchfile",)),
    "tb": ("tensorboard", ("tensorboard",)),
    "triton": ("CUDA builds of PyTorch bring it already", ("triton",)),
}


class MissingExtra(ImportError):
    """A feature that needs an optional extra which is not installed; the message names it."""


def hint(extra: str) -> str:
    """What to run to have `extra`: "pip install 'vrnfast[faces]' (dlib-bin and ...)"."""
    return f"pip install 'vrnfast[{extra}]' ({EXTRAS[extra][0]})"


@lru_cache(maxsize=None)
def installed(extra: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in EXTRAS[extra][1])


def require(extra: str, what: str, error=MissingExtra):
    """Raises `error` (a MissingExtra by default), "`what` needs the optional extra: <hint>",
    unless `extra` is installed."""
    if not installed(extra):
        raise error(f"{what} needs the optional extra: {hint(extra)}")


def import_extra(module: str, extra: str, why: str, error=MissingExtra):
    """`module` (dotted: its leaf is returned) imported, or `error`("`why`: <hint>") when it cannot
    be: the extra is missing or broken."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise error(f"{why}: {hint(extra)}") from None
