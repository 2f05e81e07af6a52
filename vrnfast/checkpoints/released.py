"""Released models by name, as torchvision and torch.hub serve theirs: `vrnfast fetch vrn-unguided`,
`--checkpoint vrn-unguided`, `vrnfast.Reconstructor("vrn-unguided")`.

On first use the authors' file is downloaded (with a progress bar) into the cache, to a temporary
name, converted (vrnfast.checkpoints.torch7: its check against the file's own graph is the integrity check)
and only the converted checkpoint is kept; later uses read the cache and touch no network.

    cache: $VRNFAST_HOME, else $XDG_CACHE_HOME/vrnfast, else ~/.cache/vrnfast
    base URL: $VRNFAST_WEIGHTS_URL (a mirror, an air-gapped site's server), else the authors'

Nothing a failed, interrupted or corrupted download leaves is ever taken for the model: the
download is a temporary file, removed whatever happens, and the checkpoint is written atomically
after the conversion's check passed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 30  # per connection attempt and per read: a server that stops answering is an error
CHUNK = 1 << 20


@dataclass(frozen=True)
class Release:
    """A released model: its file on the authors' server, and what to say about it."""
    name: str
    file: str
    base_url: str
    about: str


RELEASES = {r.name: r for r in [
    Release("vrn-unguided", "vrn-unguided.t7", "https://asjackson.s3.fr-par.scw.cloud/vrn",
            "the authors' VRN (Jackson et al., ICCV 2017), as their download.sh fetches it"),
]}


class WeightsUnavailable(ValueError):
    """A released model that cannot be fetched here (offline, a server that does not answer, a file
    that is not the model); the message says what happened and the manual route."""


def cache_dir() -> Path:
    if os.environ.get("VRNFAST_HOME"):
        return Path(os.environ["VRNFAST_HOME"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vrnfast"


def url_of(release: Release) -> str:
    base = os.environ.get("VRNFAST_WEIGHTS_URL") or release.base_url
    return f"{base.rstrip('/')}/{release.file}"


def is_release_name(text) -> bool:
    """Whether `text` reads as a model name rather than a path: no folder, no suffix."""
    s = str(text)
    return bool(s) and "/" not in s and os.sep not in s and not Path(s).suffix and not Path(s).exists()


def cached_path(name: str) -> Path:
    return cache_dir() / f"{name}.pt"


def release(name: str) -> Release:
    if name not in RELEASES:
        raise WeightsUnavailable(f"checkpoint {name}: no such file, nor a released model's name (known: "
                                 f"{', '.join(sorted(RELEASES))})")
    return RELEASES[name]


def fetch(name: str, progress: bool = True) -> Path:
    """The converted checkpoint of released model `name`, from the cache, else downloaded,
    converted and cached. WeightsUnavailable saying why and what to do instead."""
    rel = release(name)
    out = cached_path(name)
    if out.is_file():
        return out
    url = url_of(rel)
    manual = (f"download {url} elsewhere and run `vrnfast convert {rel.file} -o {out}` (or pass the converted "
              f"file as --checkpoint)")
    out.parent.mkdir(parents=True, exist_ok=True)
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{rel.file}.download-")
    os.close(fd)
    try:
        _download(url, Path(tmp), progress, manual)
        from .torch7 import ConversionError, convert

        try:
            convert(tmp, out)
        except ConversionError as e:
            raise WeightsUnavailable(f"{url} did not give the authors' model ({e}); nothing was kept. The server "
                                     f"may serve something else now: {manual}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def _download(url: str, dest: Path, progress: bool, manual: str):
    """`url` into `dest`, whole: WeightsUnavailable when the server cannot be reached, answers
    with an error, or the transfer ends short of the size it announced."""
    import http.client
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        raise WeightsUnavailable(f"cannot download {url}: the server answered {e.code} {e.reason}; {manual}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise WeightsUnavailable(f"cannot download {url} (offline, or the server does not answer: {reason}); "
                                 f"{manual}") from None
    with response:
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        got = 0
        try:
            with open(dest, "wb") as f, tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                              desc=f"download {Path(url).name}", disable=not progress) as bar:
                while chunk := response.read(CHUNK):
                    f.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        except (http.client.IncompleteRead, OSError) as e:
            raise WeightsUnavailable(f"the download of {url} broke off after {got:,} bytes ({type(e).__name__}); "
                                     f"try again, or {manual}") from None
    if total is not None and got != total:
        raise WeightsUnavailable(f"the download of {url} ended after {got:,} of {total:,} bytes; try again, or "
                                 f"{manual}")
