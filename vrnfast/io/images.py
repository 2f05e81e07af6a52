"""Images in and out, through Pillow: any array layout of an image to (H, W, 3), a file or an
array read as RGB, an image encoded (PNG, JPEG), a PNG written atomically."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import _backend as B
from .files import atomic_write


def as_hwc(image, name="image", grey=True) -> np.ndarray:
    """An image as a uint8 (H, W, 3) array, or (H, W) for a grey one when `grey`: from (H, W, 3),
    (3, H, W), (H, W, 1), (1, H, W) or (H, W) uint8 numpy arrays, tensors or CuPy arrays; ValueError
    naming `name` for anything else."""
    a = np.asarray(B.as_numpy(image, name))
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.dtype != np.uint8 or not (a.ndim == 3 and a.shape[-1] == 3 or a.ndim == 2 and grey):
        shapes = "(H, W), (H, W, 3) or (3, H, W)" if grey else "(H, W, 3) or (3, H, W)"
        raise ValueError(f"{name} must be uint8 {shapes}, got {a.dtype} {a.shape}")
    return np.ascontiguousarray(a)


def load_image(image) -> np.ndarray:
    """A path (anything Pillow reads), or an (H, W, 3) / (3, H, W) uint8 array or tensor ->
    (H, W, 3) uint8 RGB; ValueError naming the file that cannot be read."""
    if isinstance(image, (str, Path)):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(image) as im:
                return np.asarray(im.convert("RGB"))
        except FileNotFoundError:
            raise ValueError(f"image {image}: no such file") from None
        except (UnidentifiedImageError, OSError) as e:
            raise ValueError(f"image {image}: cannot read it as an image ({e})") from None
    return as_hwc(image, grey=False)


def image_bytes(image, format="PNG", max_side=None, **params) -> bytes:
    """An image (any array as_hwc takes) encoded by Pillow (format "PNG", "JPEG", ...; `params`
    are Pillow's, e.g. quality, compress_level), shrunk first to `max_side` when it is larger."""
    import io

    from PIL import Image

    picture = Image.fromarray(as_hwc(image))
    if max_side is not None and max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.LANCZOS)
    buf = io.BytesIO()
    picture.save(buf, format=format, **params)
    return buf.getvalue()


def save_png(path, image) -> Path:
    """An 8-bit RGB or grey PNG of a (H, W, 3), (3, H, W) or (H, W) uint8 array, written
    atomically; the path."""
    data = image_bytes(image, "PNG")
    return atomic_write(path, lambda f: f.write(data))
