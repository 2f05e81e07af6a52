import os

import numpy as np
import pytest


from helpers import has_cuda_device

# Without a GPU the Triton kernels run on CPU tensors in Triton's interpreter; it must be chosen
# before anything imports triton.
if not has_cuda_device():
    os.environ.setdefault("TRITON_INTERPRET", "1")


# Tests on CUDA tensors are marked `cuda` (helpers.requires_cuda: `pytest -m cuda` lists them) and
# skipped without a CUDA device; those of vrnfast._cuda (helpers.requires_cuda_ext) also when the
# extension cannot run here (built without nvcc, or a driver older than its CUDA), with the reason
# it gives.


def _cuda_ext_error():
    from vrnfast import _backend

    try:
        _backend.cuda_ext()
    except RuntimeError as e:
        return str(e)
    return None


def pytest_collection_modifyitems(config, items):
    """Skips, each with its reason: `cuda` tests without a CUDA device (or a runnable vrnfast._cuda
    for cuda(ext=True)); `triton` tests, which run the Triton kernels (interpreted on the CPU),
    without the optional triton package."""
    from vrnfast._backend import TRITON_HINT, has_triton

    no_device = pytest.mark.skip(reason="needs a CUDA device")
    no_triton = pytest.mark.skip(reason=f"triton is not installed: {TRITON_HINT}")
    for item in items:
        cuda = item.get_closest_marker("cuda")
        if cuda is not None:
            if not has_cuda_device():
                item.add_marker(no_device)
            elif cuda.kwargs.get("ext") and _cuda_ext_error():  # cuda_ext() caches its verdict
                item.add_marker(pytest.mark.skip(reason=f"vrnfast._cuda cannot run: {_cuda_ext_error()}"))
        if item.get_closest_marker("triton") and not has_triton():
            item.add_marker(no_triton)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny VRN trained for a few seconds on synthetic faces, for reconstruction and evaluation
    tests: it predicts a face-sized blob, but what exactly it learns differs from one CPU to the
    next (ISA, thread count: other rounding), so tests assert properties that hold for any such
    model. Whether training beats the mean-shape baseline is the main job's check (CI), after a
    full run; here its loss must at least have fallen well (about 3x in 4 epochs)."""
    from vrnfast.training.trainer import TrainConfig, Trainer

    out = tmp_path_factory.mktemp("tiny_run")
    cfg = TrainConfig(out=str(out), preset="tiny", epochs=4, epoch_size=128, val_size=16, workers=0, device="cpu")
    history = Trainer(cfg, progress=False).fit()
    assert history[-1]["train_loss"] < 0.6 * history[0]["train_loss"]
    return out / "best.pt"


@pytest.fixture
def sigint():
    """Ctrl-C as a terminal delivers it: Python's KeyboardInterrupt handler on SIGINT, which a
    process started in the background (a CI job, `cmd &`) inherits as ignored. The fixture's
    value: what a child process must run first (preexec_fn) to have the same."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def run_cli(capsys):
    """The command line as a shell runs it: run_cli(argv) -> (exit status, stderr's lines). A
    KeyboardInterrupt escaping it (a Ctrl-C the command did not handle) fails the test rather than
    ending the test session."""
    from vrnfast.cli import main

    def run(argv):
        code, message = 0, []
        try:
            main(argv)
        except SystemExit as e:
            code = e.code or 0
            if not isinstance(code, int):  # sys.exit("message"): Python prints it and exits with 1
                code, message = 1, [str(e.code)]
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C escaped the command as a raw KeyboardInterrupt (a traceback for the user)")
        return code, capsys.readouterr().err.splitlines() + message

    return run
