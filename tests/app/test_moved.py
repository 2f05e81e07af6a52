"""The modules that moved into subpackages import by their old names still, each with a
DeprecationWarning naming its new place, as the same module object."""
import importlib
import sys
import warnings

import pytest

from vrnfast._moved import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_name_gives_the_new_module_with_a_deprecation_warning(old, monkeypatch):
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated: it moved to {MOVED[old]}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])


def test_old_paths_that_users_hold_keep_working():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from vrnfast.reconstruct import Mesh, Reconstructor  # noqa: F401
        from vrnfast.transforms import RandAffined, affine_to_matrix  # noqa: F401

        import vrnfast
        assert vrnfast.evaluate.evaluate is importlib.import_module("vrnfast.evaluation.protocol").evaluate
    assert vrnfast.faces is importlib.import_module("vrnfast.reconstruction.faces")  # the documented shortcut
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        vrnfast.nonesuch  # noqa: B018
