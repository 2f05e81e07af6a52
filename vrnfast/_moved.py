"""The modules that moved when the application code was grouped into layers, importable by their
old names still (`vrnfast.reconstruct`, `vrnfast.transforms`, ...), each with a
DeprecationWarning naming its new place: an import hook, so that no file is kept for them."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "vrnfast.transforms": "vrnfast.compat.monai",
    "vrnfast.export": "vrnfast.io.export",
    "vrnfast.render": "vrnfast.viz.render",
    "vrnfast.plot": "vrnfast.viz.plot",
    "vrnfast.pages": "vrnfast.viz.pages",
    "vrnfast.train": "vrnfast.training.trainer",
    "vrnfast.augmentation": "vrnfast.training.augmentation",
    "vrnfast.evaluate": "vrnfast.evaluation.protocol",
    "vrnfast.report": "vrnfast.evaluation.report",
    "vrnfast.reconstruct": "vrnfast.reconstruction.reconstructor",
    "vrnfast.faces": "vrnfast.reconstruction.faces",
    "vrnfast.photos": "vrnfast.reconstruction.framing",
    "vrnfast.sources": "vrnfast.reconstruction.sources",
    "vrnfast.convert": "vrnfast.checkpoints.torch7",
    "vrnfast.cli_reconstruct": "vrnfast.cli.reconstruct",
}


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds each old name of MOVED and gives the module at its new name (the same object: what a
    test or a user patches there is patched everywhere)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        # stacklevel 2: warnings skips importlib's own frames, so this names the line that imported
        warnings.warn(f"{spec.name} is deprecated: it moved to {MOVED[spec.name]}", DeprecationWarning, stacklevel=2)
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # the module at the new name has run already


def install():
    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.append(MovedModules())
