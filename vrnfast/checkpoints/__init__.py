"""vrnfast's checkpoints: what a path or a name given as --checkpoint means, loading one (weights
only: never code from the file) into its model, and writing them atomically."""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import torch

from ..models import build_model


class CheckpointError(ValueError):
    """A checkpoint that is not a vrnfast training checkpoint, or not of the expected model."""


CHECKPOINT_HINT = "pass a checkpoint written by vrnfast train: a run directory's best.pt or last.pt"


def resolve_checkpoint(checkpoint) -> Path:
    """The checkpoint file a path names: the file itself, or a run directory's best.pt; or a
    released model's name (vrnfast.weights: "vrn-unguided"), fetched into the cache on first use.
    CheckpointError, saying what to pass instead, for anything else."""
    from .released import WeightsUnavailable, fetch, is_release_name

    path = Path(checkpoint)
    if is_release_name(checkpoint):
        try:
            return fetch(str(checkpoint))
        except WeightsUnavailable as e:
            raise CheckpointError(str(e)) from None
    if path.is_dir():
        if (path / "best.pt").is_file():
            return path / "best.pt"
        others = sorted(p.name for p in path.glob("*.pt"))
        raise CheckpointError(f"checkpoint {path} is a directory without best.pt"
                              + (f"; pass one of its checkpoints: {', '.join(str(path / n) for n in others)}"
                                 if others else f" or any other .pt file; {CHECKPOINT_HINT}"))
    if not path.exists():
        raise CheckpointError(f"checkpoint {path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: not a regular file; {CHECKPOINT_HINT}")
    return path


def _file_kind(path: Path) -> str | None:
    """What a file that is not a PyTorch checkpoint looks like, for the error message."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "an empty file"
    for magic, kind in ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"\x93NUMPY", "a .npy array"),
                        (b"ply\n", "a PLY mesh")):
        if head.startswith(magic):
            return kind
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return None  # a zip or pickle: what torch.save writes
    text = head.lstrip()
    if text[:1] in (b"{", b"["):
        return "a JSON file" + (" (a run's config.json, not its weights)" if path.name == "config.json" else "")
    if path.name == "log.csv" or path.suffix == ".csv":
        return "a CSV file (a run's log.csv, not its weights)" if path.name == "log.csv" else "a CSV file"
    try:
        head.decode("utf-8")
        return "a text file"
    except UnicodeDecodeError:
        return "not a PyTorch file"


def load_model(checkpoint, model=None, preset=None, device="cpu"):
    """(module in eval mode, checkpoint dict) from a path (a checkpoint file, or a run directory:
    its best.pt) or a loaded checkpoint; `model` / `preset`, when given, must be the checkpoint's."""
    ck = checkpoint
    label = "(given as a dict)" if isinstance(ck, dict) else checkpoint  # for messages
    if not isinstance(ck, dict):
        path = label = resolve_checkpoint(checkpoint)
        kind = _file_kind(path)
        if kind is not None:
            raise CheckpointError(f"checkpoint {path} is {kind}; {CHECKPOINT_HINT}")
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            # torch's message advises weights_only=False, which would run code from the file
            raise CheckpointError(f"checkpoint {path} holds Python objects besides tensors, so it is not "
                                  f"loaded (vrnfast loads only weights); {CHECKPOINT_HINT}") from None
        except Exception as e:
            raise CheckpointError(f"checkpoint {path}: not a readable PyTorch checkpoint ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0] if str(e) else 'no details'}); {CHECKPOINT_HINT}") from None
    if not isinstance(ck, dict) or not {"model", "model_name", "preset"} <= set(ck):
        raise CheckpointError(f"checkpoint {label}: not a vrnfast training checkpoint "
                              f"(it lacks 'model', 'model_name' or 'preset'); {CHECKPOINT_HINT}")
    for name, want in (("model", model), ("preset", preset)):
        have = ck["model_name" if name == "model" else "preset"]
        if want is not None and want != have:
            raise CheckpointError(f"checkpoint {label} holds {name} {have!r}, not {want!r}")
    net = build_model(ck["model_name"], ck["preset"])
    try:
        net.load_state_dict(ck["model"])
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {label}: its weights do not fit model {ck['model_name']!r} at preset "
                              f"{ck['preset']!r}: {str(e).splitlines()[0]}") from None
    return net.to(device).eval(), ck


def save_checkpoint(paths, state):
    """Writes `state` to one path or several, each atomically (a temporary file, then a rename);
    serialised once however many files get it."""
    from ..io import atomic_write

    buf = io.BytesIO()
    torch.save(state, buf)
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        atomic_write(path, lambda f: f.write(buf.getbuffer()))


def load_checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=True)
