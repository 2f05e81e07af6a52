"""vrnfast convert: Torch7 files written here (tests/torch7.py) in the spellings of the era, converted,
and run against a direct numpy interpreter of the same tree (float64)."""
import numpy as np
import pytest
import torch

import helpers.torch7 as T
from vrnfast.cli import main

pytest.importorskip("torchfile", reason="vrnfast convert needs the convert extra: pip install 'vrnfast[convert]'")
from vrnfast.checkpoints.torch7 import ConversionError, convert, load_t7, run_t7  # noqa: E402

STYLES = {"nn float running_var": T.Style(),
          "cudnn CUDA running_std": T.Style(cudnn=True, kind="Cuda", running_std=True),
          "nn double running_std": T.Style(kind="Double", running_std=True),
          "cudnn float running_var": T.Style(cudnn=True)}


def every_module_type(s):
    """A small tree holding each module type the converter knows."""
    return T.seq(T.conv(s, 3, 8, 7, 2, 3), T.bn(s, 8), T.relu(s), T.residual(s, 8, 16), T.maxpool(s),
                 T.residual(s, 16, 16), T.concat(T.identity(), T.seq(T.conv(s, 16, 16, 3, 1, 1), T.up_nearest(2),
                                                                     T.maxpool(s))), T.cadd(),
                 T.up_bilinear(scale=3), T.up_bilinear(size=20), T.sigmoid())


@pytest.mark.parametrize("style", list(STYLES))
def test_every_module_type_is_read_as_the_reference_runs_it(tmp_path, style):
    s = STYLES[style]
    tree = every_module_type(s)
    T.save(tmp_path / "m.t7", tree)
    x = np.random.default_rng(2).random((3, 32, 32))
    ours = run_t7(load_t7(tmp_path / "m.t7"), torch.from_numpy(x)[None])[0].numpy()
    ref = T.forward(tree, x)
    assert ours.shape == ref.shape == (16, 20, 20)
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=0)


def _authors(tmp_path, style, scale=None):
    s = T.Style(cudnn=style.cudnn, kind=style.kind, running_std=style.running_std, gain=0.5)
    tree = T.authors_vrn(s, scale=scale)
    T.save(tmp_path / "vrn-unguided.t7", tree)
    return tree


def _check_converted(tmp_path, tree):
    from vrnfast import Reconstructor

    main(["convert", str(tmp_path / "vrn-unguided.t7")])
    # float32: "auto" would take bf16 on a CPU with native bf16, and the reference is float64
    rec = Reconstructor(tmp_path / "vrn-unguided.pt", device="cpu", precision="float32")
    assert (rec.model_name, rec.preset, rec.z_scale, rec.input_range) == ("vrn", "paper", 0.5, "0..1")
    image = np.random.default_rng(3).integers(0, 256, (1, 3, 192, 192), dtype=np.uint8)
    ours = rec.predict(torch.from_numpy(image))["volume"][0].double().numpy()  # probabilities
    ref = T.forward(tree, image[0] / 255.0)
    assert isinstance(ref, list) and len(ref) == 1  # the authors' head is a table of one volume
    assert ours.shape == ref[0].shape == (200, 192, 192)
    assert 0.05 < ref[0].std()  # not saturated: a comparison that can fail
    np.testing.assert_allclose(ours, ref[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("scale", [None, 4], ids=["oheight owidth 192", "scale_factor 4"])
def test_the_authors_vrn_converts_to_its_own_output(tmp_path, scale):
    """Both spellings of the last upsampling: (oheight, owidth) = 192, and scale_factor 4, which
    the last torch/nn release turns into 48 * 4 = 192 (the ports of the authors' file say 4)."""
    _check_converted(tmp_path, _authors(tmp_path, STYLES["cudnn CUDA running_std"], scale=scale))


def test_an_upsampling_that_does_not_give_192_is_refused_by_name(tmp_path):
    T.save(tmp_path / "three.t7", T.authors_vrn(T.Style(), scale=3))
    with pytest.raises(ConversionError, match=r"gives \(1, 200, 144, 144\); the authors' VRN gives \(1, 200, 192, 192\): "
                                              r"its upsampling model\.modules\[11\]\.modules\[0\]\.modules\[2\] "
                                              r"\(scale_factor 3\) makes 144x144 of the 48x48 maps"):
        convert(tmp_path / "three.t7", tmp_path / "three.pt")
    assert not (tmp_path / "three.pt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("style", ["nn float running_var", "nn double running_std"])
def test_the_authors_vrn_converts_in_every_spelling(tmp_path, style):
    _check_converted(tmp_path, _authors(tmp_path, STYLES[style]))


def test_bad_files_are_named_and_leave_nothing(tmp_path, capsys):
    s = T.Style()
    (tmp_path / "junk.t7").write_bytes(b"\x89PNG\r\n\x1a\n not a model")
    T.save(tmp_path / "tanh.t7", T.seq(T.conv(s, 3, 4), Module_tanh()))
    T.save(tmp_path / "small.t7", every_module_type(s))
    T.save(tmp_path / "full.t7", T.authors_vrn(T.Style(gain=0.5)))
    data = (tmp_path / "full.t7").read_bytes()
    (tmp_path / "cut.t7").write_bytes(data[:len(data) // 2])
    T.save(tmp_path / "table.t7", {"not": "a network"})
    cases = [("junk.t7", "not a readable Torch7 file"), ("cut.t7", "not a readable Torch7 file"),
             ("table.t7", "a Torch7 file, but of a"),
             ("tanh.t7", r"model.modules\[1\]: module type nn.Tanh is not supported"),
             ("small.t7", "the file holds 9 convolutions and 7 batch norms; the authors' VRN has 276 and 273"),
             ("missing.t7", "no such file"), ("folder", "a directory; give the Torch7 model file")]
    (tmp_path / "folder").mkdir()
    for name, message in cases:
        with pytest.raises(SystemExit, match=message):
            main(["convert", str(tmp_path / name)])
        assert not (tmp_path / name).with_suffix(".pt").exists()
    with pytest.raises(ConversionError, match="not a readable Torch7 file"):
        convert(tmp_path / "cut.t7", tmp_path / "cut.pt")
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob(".*tmp*"))


def test_same_layers_wired_otherwise_are_refused(tmp_path):
    """Newell's hourglass has the same layers, the inner level nested in the pooled branch instead
    of the full-resolution one. Every layer fits, but the graph computes something else."""
    s = T.Style(gain=0.5)
    tree = T.authors_vrn(s)
    outer = tree.fields["modules"][7].fields["modules"][1].fields["modules"][0]  # stack 1's outer level
    upper, lower = (m.fields["modules"] for m in outer.fields["modules"])
    lower.insert(len(lower) - 1, upper.pop())  # the nested level moved before the pooled branch's upsampling
    T.save(tmp_path / "rewired.t7", tree)
    with pytest.raises(ConversionError, match="graph computes something else"):
        convert(tmp_path / "rewired.t7", tmp_path / "rewired.pt")
    assert not (tmp_path / "rewired.pt").exists()


def test_an_existing_output_is_kept_without_force(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"keep")
    with pytest.raises(SystemExit, match="exists"):
        main(["convert", str(tmp_path / "m.t7"), "-o", str(tmp_path / "m.pt")])
    assert (tmp_path / "m.pt").read_bytes() == b"keep"
    with pytest.raises(SystemExit, match="must end in .pt"):
        main(["convert", str(tmp_path / "m.t7"), "-o", str(tmp_path / "m.pth")])


def Module_tanh():
    return T.Module("nn.Tanh", {})


def test_reconstruct_takes_the_converted_model_as_it_is(tmp_path):
    """The converted checkpoint in `vrnfast reconstruct`: framed, fed RGB in [0, 1], meshed with
    the halved depth scale, without a flag."""
    import json

    from PIL import Image

    s = T.Style(gain=0.5)
    T.save(tmp_path / "vrn-unguided.t7", T.authors_vrn(s))
    convert(tmp_path / "vrn-unguided.t7", tmp_path / "vrn.pt")
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (192, 192, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tmp_path / "vrn.pt"), "-o", str(tmp_path / "a.ply"),
          "--detector", "none", "--device", "cpu"])
    rec = json.loads((tmp_path / "a.json").read_text())
    assert rec["vertices"] > 0 and (tmp_path / "a.ply").is_file()
    import trimesh

    z = trimesh.load(tmp_path / "a.ply", process=False).vertices[:, 2]
    assert z.max() <= 0.5 * 199 + 1e-3  # 200 slices, half a pixel each


@pytest.mark.slow
def test_evaluate_takes_the_converted_model_as_it_is(tmp_path):
    from vrnfast.evaluation.protocol import evaluate

    T.save(tmp_path / "vrn-unguided.t7", T.authors_vrn(T.Style(gain=0.5)))
    convert(tmp_path / "vrn-unguided.t7", tmp_path / "vrn.pt")
    result = evaluate(tmp_path / "vrn.pt", n=1, device="cpu", progress=False)
    assert result["model"] == "vrn" and result["preset"] == "paper"
    (row,) = result["samples"]
    assert row["iou"] is None and row["nme"] is not None and row["baseline_iou"] is not None
