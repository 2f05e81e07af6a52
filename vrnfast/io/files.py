"""Files written whole or not at all."""
from __future__ import annotations

import os
from pathlib import Path


TMP_MARK = ".tmp-"  # in the name of every file atomic_write has not yet renamed into place


def atomic_write(path, write) -> Path:
    """Writes `path` whole or not at all: `write(f)` fills a temporary file (a binary file object)
    beside it, which then replaces `path` in one rename; on any error, Ctrl-C included, the
    temporary file is removed and `path` is left as it was. Missing parent folders are created."""
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TMP_MARK}")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_UMASK)  # as open() would create it (mkstemp's 0600 would make it private)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # once, at import: reading it means setting it, which is not thread-safe
