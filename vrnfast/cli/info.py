"""`vrnfast info`: versions, backends, and every model's size at every preset."""
from __future__ import annotations

import numpy as np

from ..models.names import MODELS, PRESET_NAMES


def add_parser(sub):
    i = sub.add_parser("info", help="versions, available backends, and every model's size at every preset")
    i.add_argument("--model", choices=MODELS, help="only this model (default: all)")
    i.add_argument("--preset", choices=PRESET_NAMES, help="only this preset (default: all)")
    i.set_defaults(fn=run)


def run(args):
    import platform

    from .. import __version__, _backend

    print(f"vrnfast {__version__}  Python {platform.python_version()}  numpy {np.__version__}")
    try:
        import torch

        cuda = torch.cuda.is_available()
        print(f"torch {torch.__version__}  CUDA available: {cuda}"
              + (f" ({torch.cuda.get_device_name()})" if cuda else ""))
    except ImportError:
        print("torch: not installed")
    try:
        import triton

        print(f"triton {triton.__version__}")
    except ImportError:
        print("triton: not installed")
    print(f"C++ extension vrnfast._C: built, {_backend.get_num_threads()} threads")
    try:
        _backend.cuda_ext()
        print("CUDA extension vrnfast._cuda: built, runs here")
    except RuntimeError as e:
        print(f"CUDA extension vrnfast._cuda: {e}")
    from ..models import PRESETS, describe

    print("\nmodels (shapes per sample; every stack's output is supervised):")
    print(f"{'model':9s} {'preset':6s} {'parameters':>10s}  {'input':11s}  {'volume per stack':18s}  landmarks per stack")
    for model in [args.model] if args.model else MODELS:
        for preset in [args.preset] if args.preset else PRESETS:
            d = describe(model, preset)
            print(f"{model:9s} {preset:6s} {d['parameters']:>10,d}  {'3x{0}x{0}'.format(d['image_size']):11s}  "
                  f"{_per_stack(d['volume']):18s}  {_per_stack(d['landmarks'])}")


def _per_stack(shapes):
    """[(1, C, H, W)] * stacks -> 'stacks x CxHxW' ('-' for none)."""
    return f"{len(shapes)} x {'x'.join(map(str, shapes[-1][1:]))}" if shapes else "-"
