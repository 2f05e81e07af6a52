"""What `vrnfast reconstruct` reads: image files, folders of them (recursively) and videos (every
N-th frame, through imageio and its ffmpeg: the optional extra "video"), as one stream of frames.

    sources = expand(["photo.jpg", "album/", "clip.mp4"])
    for frame in frames(sources, every=5):
        frame.image            # (H, W, 3) uint8, or None with frame.error saying why
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import _optional

IMAGE_SUFFIXES = frozenset(".jpg .jpeg .png .bmp .gif .tif .tiff .webp .ppm .pgm .pnm".split())
VIDEO_SUFFIXES = frozenset(".mp4 .m4v .mov .avi .mkv .webm .mpg .mpeg .wmv .flv .3gp".split())
VIDEO_HINT = _optional.hint("video")


class VideoUnavailable(_optional.MissingExtra):
    """Reading videos needs the optional extra "video"."""


def video_available() -> bool:
    return _optional.installed("video")


@dataclass(frozen=True)
class Source:
    """One input file; `name` is its outputs' path (no suffix) relative to the output directory:
    the file's stem, or its path below a folder given as input."""
    path: Path
    name: Path

    @property
    def video(self) -> bool:
        return self.path.suffix.lower() in VIDEO_SUFFIXES


@dataclass
class Frame:
    """An image of a source (`index`: its frame number in a video, else None), or why there is none."""
    source: Source
    index: int | None
    image: np.ndarray | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return str(self.source.path) if self.index is None else f"{self.source.path} frame {self.index}"

    @property
    def name(self) -> Path:
        """Its outputs' path (no suffix): a video's frames add their number."""
        n = self.source.name
        return n if self.index is None else n.with_name(f"{n.name}_{self.index:06d}")


def expand(inputs) -> list[Source]:
    """The sources of the given paths: files as given, folders read recursively (image and video
    files, in sorted order). Sources that would share a name get their position among the
    sources appended, so that a/face.png and b/face.jpg do not write the same outputs."""
    sources = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            sources += [Source(p, p.relative_to(path).with_suffix("")) for p in found] or [Source(path, Path(path.name))]
        else:
            sources.append(Source(path, Path(path.stem)))
    stems = [s.name for s in sources]
    return [s if stems.count(s.name) == 1 else Source(s.path, s.name.with_name(f"{s.name.name}_{k}"))
            for k, s in enumerate(sources)]


def _read_video(path, every):
    _optional.require("video", "reading videos", VideoUnavailable)
    import imageio.v3 as iio

    for i, image in enumerate(iio.imiter(path, plugin="FFMPEG")):
        if i % every == 0:
            yield i, np.ascontiguousarray(image[..., :3])


def frames(sources, every=1):
    """Every image of the sources, each a Frame: an image file's one image, every `every`-th
    frame of a video; a file that cannot be read gives one Frame with its error. VideoUnavailable
    for a video without the extra."""
    from ..io import load_image

    for source in sources:
        if not source.path.exists():
            yield Frame(source, None, error="no such file")
        elif source.path.is_dir():
            yield Frame(source, None, error="a folder without image or video files")
        elif not source.video:
            try:
                yield Frame(source, None, load_image(source.path))
            except ValueError as e:
                yield Frame(source, None, error=str(e).split(": ", 1)[-1])
        else:
            read = 0
            try:
                for i, image in _read_video(source.path, every):
                    read += 1
                    yield Frame(source, i, image)
            except VideoUnavailable:
                raise
            except Exception as e:  # ffmpeg's and imageio's errors for a damaged or foreign file
                yield Frame(source, None, error=f"cannot read it as a video after {read} frames "
                                                 f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
            else:
                if read == 0:
                    yield Frame(source, None, error="a video without frames")


def count(sources, every=1) -> int | None:
    """How many Frames `frames` gives, from the videos' metadata (None when one does not say)."""
    total = 0
    for s in sources:
        if not s.video or not s.path.is_file():
            total += 1
            continue
        try:
            import imageio.v3 as iio

            meta = iio.immeta(s.path, plugin="FFMPEG")
            n = meta.get("nframes")
            n = n if isinstance(n, int) and n > 0 else round(meta["duration"] * meta["fps"])
            total += max(1, math.ceil(n / every))
        except Exception:
            return None
    return total
