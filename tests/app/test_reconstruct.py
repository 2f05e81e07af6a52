"""Reconstruction: image -> coloured mesh in the image's coordinates, with a trained checkpoint."""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from vrnfast import Reconstructor
from vrnfast.cli import main
from vrnfast.data import synthetic_sample
from vrnfast.data.crop import Crop, centred_crop, face_crop, landmark_box
from vrnfast.reconstruction.reconstructor import CheckpointError, load_image, resolve_checkpoint, sample_colors
from vrnfast.viz.render import caption_height


@pytest.fixture(scope="module")
def face():
    return synthetic_sample(3, seed=99, size=64, depth=64)["image"].transpose(1, 2, 0).copy()


@pytest.fixture(scope="module")
def rec(tiny_checkpoint):
    return Reconstructor(tiny_checkpoint, device="cpu")


def test_mesh_lies_on_the_face_in_image_coordinates(rec, face):
    """The face pasted into a larger canvas, found with --bbox: the mesh is the crop's mesh moved
    by the offset, inside the box, coloured from the canvas."""
    canvas = np.zeros((150, 230, 3), np.uint8)
    ox, oy = 101, 37
    canvas[oy:oy + 64, ox:ox + 64] = face
    alone = rec.mesh(face)
    f = rec.face_fraction  # a face box that the training framing turns into exactly the 64 x 64 square
    placed = rec.mesh(canvas, bbox=(ox + 32 - 32 * f, oy + 32 - 32 * f, 64 * f, 64 * f))
    assert len(alone.verts) > 500 and len(alone.faces) > 1000
    np.testing.assert_allclose(placed.verts, alone.verts + np.float32([ox, oy, 0]), atol=1e-4)
    np.testing.assert_array_equal(placed.faces, alone.faces)
    np.testing.assert_array_equal(placed.colors, alone.colors)
    x, y, z = placed.verts.T
    assert x.min() >= ox - 0.5 and x.max() <= ox + 63.5 and y.min() >= oy - 0.5 and y.max() <= oy + 63.5
    assert z.min() >= 0 and z.max() <= 63
    np.testing.assert_allclose(np.linalg.norm(placed.normals, axis=1), 1, atol=1e-5)
    # the winding agrees with the vertex normals, which point out of the solid (toward the camera
    # at the front of the face)
    v, f = placed.verts.astype(np.float64), placed.faces
    right_hand = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert ((right_hand * placed.normals[f].sum(1)).sum(1) > 0).mean() > 0.99
    front = placed.verts[:, 2] < np.percentile(placed.verts[:, 2], 10)
    assert (placed.normals[front, 2] < 0).mean() > 0.9
    # the colours are the canvas under each vertex: an independent bilinear sample of a few
    for k in np.linspace(0, len(x) - 1, 25).astype(int):
        x0, y0 = int(np.floor(x[k])), int(np.floor(y[k]))
        fx, fy = x[k] - x0, y[k] - y0
        c = canvas.astype(float)
        want = ((1 - fy) * ((1 - fx) * c[y0, x0] + fx * c[y0, x0 + 1])
                + fy * ((1 - fx) * c[y0 + 1, x0] + fx * c[y0 + 1, x0 + 1]))
        assert np.abs(placed.colors[k] - want).max() <= 1


def test_mesh_scales_with_the_image(rec, face):
    """An image twice the model's size: the mesh comes back in its pixels, twice as large."""
    big = np.asarray(Image.fromarray(face).resize((128, 128), Image.BILINEAR))
    m = rec.mesh(big)
    x, y, z = m.verts.T
    assert x.min() >= -0.5 and x.max() <= 127.5 and y.min() >= -0.5 and y.max() <= 127.5
    small = rec.mesh(face)
    assert z.max() == pytest.approx(2 * small.verts[:, 2].max(), rel=0.1)
    assert np.ptp(x) == pytest.approx(2 * np.ptp(small.verts[:, 0]), rel=0.1)


def test_crops_and_their_maps():
    c = centred_crop((100, 300), 64)  # the centred largest square
    assert (c.x, c.y, c.side) == (100.0, 0.0, 100.0)
    # a face box is framed as training crops are: centred, its sqrt(w h) the face fraction of the side
    c = face_crop((10, 20, 40, 90), (300, 300), 64, face_fraction=0.5)
    assert (c.x + c.side / 2, c.y + c.side / 2) == (30.0, 65.0) and c.side == pytest.approx(120.0)
    img = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    np.testing.assert_array_equal(Crop(5.0, 2.0, 10.0, 10).resize(img), img[2:12, 5:15])  # same size: a copy
    out = Crop(-4.0, -4.0, 8.0, 8).resize(img)  # outside the image: black
    assert (out[:4] == 0).all() and (out[:, :4] == 0).all() and np.array_equal(out[4:, 4:], img[:4, :4])
    # the resize and the point map agree at sub-pixel level: a bright pixel's centroid lands where
    # from_image says, for fractional boxes shrinking and enlarging
    for box in [(3.3, 5.7, 40.6, 16), (20.25, 22.5, 7.5, 30)]:
        crop = Crop(*box)
        img = np.zeros((60, 60, 3), np.uint8)
        img[27, 24] = 255
        out = crop.resize(img)[..., 0].astype(float)
        ys, xs = np.mgrid[:crop.size, :crop.size]
        centroid = [(out * xs).sum() / out.sum(), (out * ys).sum() / out.sum()]
        np.testing.assert_allclose(centroid, crop.from_image(np.array([[24.0, 27.0, 0.0]]))[0, :2], atol=0.06)
    pts = np.random.default_rng(0).uniform(-50, 50, (10, 3))
    np.testing.assert_allclose(crop.to_image(crop.from_image(pts)), pts, atol=1e-9)
    assert landmark_box(np.array([[10.0, 20.0], [30.0, 60.0]])) == (10.5, 20.5, 20.0, 40.0)
    with pytest.raises(ValueError, match="bbox width and height"):
        face_crop((0, 0, -1, 5), (10, 10), 8)
    with pytest.raises(ValueError, match="outside"):
        face_crop((20, 20, 5, 5), (10, 10), 8)
    with pytest.raises(ValueError, match="bbox must be 4"):
        face_crop((0, 0, 5), (10, 10), 8)
    with pytest.raises(ValueError, match="far larger than"):
        face_crop((0, 0, 1e5, 1e5), (10, 10), 8)


def test_sample_colors_is_bilinear():
    ramp = np.zeros((5, 7, 3), np.uint8)
    ramp[..., 0] = np.arange(7) * 30
    ramp[..., 1] = (np.arange(5) * 40)[:, None]
    xy = np.array([[0.5, 0.25], [3.0, 4.0], [6.0, 0.0], [-3.0, 9.0]], np.float32)
    got = sample_colors(ramp, xy)
    np.testing.assert_array_equal(got[:, 0], [15, 90, 180, 0])
    np.testing.assert_array_equal(got[:, 1], [10, 160, 0, 160])


def test_bad_inputs(tmp_path, tiny_checkpoint, face):
    with pytest.raises(CheckpointError, match="no such file"):
        Reconstructor(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a vrnfast training checkpoint"):
        Reconstructor(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="junk.pt is a text file; pass a checkpoint written by vrnfast train"):
        Reconstructor(tmp_path / "junk.pt")
    (tmp_path / "zip.pt").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(CheckpointError, match="zip.pt: not a readable PyTorch checkpoint"):
        Reconstructor(tmp_path / "zip.pt")
    with pytest.raises(CheckpointError, match="holds model 'vrn', not 'guided'"):
        Reconstructor(tiny_checkpoint, model="guided")
    with pytest.raises(CheckpointError, match="holds preset 'tiny', not 'paper'"):
        Reconstructor(tiny_checkpoint, preset="paper")
    ck = torch.load(tiny_checkpoint, weights_only=True)
    ck["preset"] = "small"  # weights of another size
    with pytest.raises(CheckpointError, match="do not fit model 'vrn' at preset 'small'"):
        Reconstructor(ck)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="text.png: cannot read it as an image"):
        load_image(tmp_path / "text.png")
    with pytest.raises(ValueError, match="image must be uint8"):
        load_image(face.astype(np.float32))
    rec = Reconstructor(tiny_checkpoint, device="cpu")
    with pytest.raises(ValueError, match="images must be uint8"):
        rec.predict(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


class NotWeights:  # an object torch.load(weights_only=True) refuses
    pass


def test_checkpoint_errors_say_what_the_file_is_and_what_to_pass(tmp_path, tiny_checkpoint):
    run = tiny_checkpoint.parent  # a real run directory: best.pt, last.pt, config.json, log.csv, loss.png
    assert Reconstructor(run).model_name == "vrn"  # a run directory means its best.pt
    assert resolve_checkpoint(run) == tiny_checkpoint
    for name, what in (("config.json", "a JSON file \\(a run's config.json, not its weights\\)"),
                       ("log.csv", "a CSV file \\(a run's log.csv"), ("loss.png", "a PNG image")):
        with pytest.raises(CheckpointError, match=f"{name} is {what}.*best.pt or last.pt") as e:
            Reconstructor(run / name)
        assert "weights_only" not in str(e.value)
    torch.save({"model": NotWeights(), "model_name": "vrn", "preset": "tiny"}, tmp_path / "objects.pt")
    with pytest.raises(CheckpointError, match="holds Python objects besides tensors") as e:
        Reconstructor(tmp_path / "objects.pt")
    assert "weights_only" not in str(e.value) and "Unpickl" not in str(e.value)
    (tmp_path / "binary.pt").write_bytes(bytes([0xFF, 0xFE, 0x00, 0x81]) * 8)
    with pytest.raises(CheckpointError, match="binary.pt is not a PyTorch file"):
        Reconstructor(tmp_path / "binary.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pt is an empty file"):
        Reconstructor(tmp_path / "empty.pt")
    partial = tmp_path / "partial"
    partial.mkdir()
    with pytest.raises(CheckpointError, match="partial is a directory without best.pt or any other .pt file"):
        Reconstructor(partial)
    shutil.copy(tiny_checkpoint, partial / "last.pt")
    with pytest.raises(CheckpointError, match=f"without best.pt; pass one of its checkpoints: {partial / 'last.pt'}"):
        Reconstructor(partial)


def test_command_line_checkpoint_errors(tmp_path, tiny_checkpoint, face, capsys):
    Image.fromarray(face).save(tmp_path / "a.png")
    run = tiny_checkpoint.parent
    with pytest.raises(SystemExit, match="config.json is a JSON file") as e:
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(run / "config.json")])
    assert "weights_only" not in str(e.value)
    with pytest.raises(SystemExit, match="config.json is a JSON file"):
        main(["evaluate", "--checkpoint", str(run / "config.json"), "--n", "1"])
    main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(run), "-o", str(tmp_path / "a.ply"),
          "--detector", "none"])
    assert (tmp_path / "a.ply").is_file()


def test_command_line(tmp_path, tiny_checkpoint, face, capsys):
    Image.fromarray(face).save(tmp_path / "a.png")
    Image.fromarray(face).resize((90, 70)).save(tmp_path / "b.jpg")
    (tmp_path / "sub").mkdir()
    Image.fromarray(face).save(tmp_path / "sub" / "a.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    images = [str(tmp_path / n) for n in ("a.png", "b.jpg", "broken.png", "sub/a.png")]
    with pytest.raises(SystemExit, match="1 of 4 images skipped .*; 3 meshes written"):
        main(["reconstruct", *images, "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "out"),
              "--format", "ply", "--preview", str(tmp_path / "pv"), "--batch-size", "2", "--detector", "none"])
    out = capsys.readouterr()
    assert "broken.png: cannot read it as an image" in out.err
    # the two a.png do not overwrite each other; each mesh has its record
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_0.json", "a_0.ply", "a_3.json", "a_3.ply",
                                                                  "b.json", "b.ply"]
    rec_b = json.loads((tmp_path / "out" / "b.json").read_text())
    assert rec_b["image"] == images[1] and rec_b["image_size"] == [90, 70] and rec_b["detector"] == "none"
    assert rec_b["face"] == 0 and rec_b["box"] is None and rec_b["landmarks"] is None and rec_b["landmarks_3d"] is None
    assert rec_b["mesh"] == [str(tmp_path / "out" / "b.ply"), str(tmp_path / "pv" / "b_preview.png")]
    crop = centred_crop((70, 90), 64)  # the centred square, as the network saw it
    np.testing.assert_allclose(np.array(rec_b["crop"]) @ [10.0, 20.0, 1.0], crop.from_image(np.array([[10.0, 20.0]]))[0])
    assert rec_b["vertices"] > 100 and rec_b["faces"] > 100 and set(rec_b["seconds"]) >= {"network", "write"}
    pv = np.asarray(Image.open(tmp_path / "pv" / "b_preview.png"))
    panel = pv.shape[1] // 4  # crop | front coloured | front shape | side, their names under them
    assert pv.ndim == 3 and pv.shape[:2] == (panel + caption_height(panel), 4 * panel)
    main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "one.obj"),
          "--detector", "none"])
    assert (tmp_path / "one.obj").read_text().startswith("mtllib one.mtl\nusemtl one\nv ")  # textured
    assert (tmp_path / "one.png").is_file() and "map_Kd one.png" in (tmp_path / "one.mtl").read_text()
    with pytest.raises(SystemExit, match=r"must end in .obj, .glb, .ply or .html"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "x.stl")])
    with pytest.raises(SystemExit, match="--bbox must be x,y,w,h"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "--bbox", "1,2,3"])
    with pytest.raises(SystemExit, match="a.png is a PNG image; pass a checkpoint"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tmp_path / "a.png")])
    (tmp_path / "five.txt").write_text("1 2\n3 4\n")
    with pytest.raises(SystemExit, match="five.txt: needs 68 finite"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "--landmarks",
              str(tmp_path / "five.txt")])
    with pytest.raises(SystemExit, match="--bbox or --landmarks, not both"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "--bbox", "1,2,3,4",
              "--landmarks", str(tmp_path / "five.txt").replace("five", "none")])


def test_without_face_detection_reconstruct_says_which_extra_to_install(tmp_path, tiny_checkpoint, face, monkeypatch):
    from vrnfast.reconstruction import faces

    def unavailable(*args, **kwargs):
        raise faces.FacesUnavailable(f"face detection needs dlib: {faces.EXTRA_HINT}")

    monkeypatch.setattr(faces, "detect", unavailable)
    Image.fromarray(face).save(tmp_path / "a.png")
    with pytest.raises(SystemExit, match=r"pip install 'vrnfast\[faces\]'.*--bbox x,y,w,h or --landmarks FILE"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint)])
    lms = synthetic_sample(3, seed=99, size=64, depth=64)["landmarks"][:, :2]  # the face's own 68 points
    np.savetxt(tmp_path / "a.txt", lms)
    main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "--landmarks",
          str(tmp_path / "a.txt"), "-o", str(tmp_path / "a.ply")])
    rec = json.loads((tmp_path / "a.json").read_text())
    assert rec["detector"] == "landmarks" and np.allclose(rec["landmarks"], lms, atol=1e-3)


def test_bf16_inference_agrees_with_float32(tiny_checkpoint):
    """bf16 autocast (the default on CPUs with native bf16, and on CUDA) against float32 on 16
    synthetic validation faces: no probability moves by more than 0.03 (about 3x what was
    measured on AVX2 and AMX CPUs), so only voxels that float32 left within 0.03 of the level
    change side, however many of them a briefly trained model leaves there; the mean NME within
    1 % of float32's."""
    from vrnfast import metrics
    from vrnfast.evaluation.protocol import held_out_samples, surface_points

    r32, r16 = (Reconstructor(tiny_checkpoint, device="cpu", precision=p) for p in ("float32", "bf16"))
    assert (r32.precision, r16.precision) == ("float32", "bf16")
    _, samples = held_out_samples("synthetic", 0, "tiny", 16)
    moved, nmes = [], []
    for s in samples:
        x = torch.from_numpy(s["image"][None])
        p32, p16 = (r.predict(x)["volume"][0].numpy() for r in (r32, r16))
        assert not np.array_equal(p32, p16)  # bf16 did run
        moved.append(np.abs(p16 - p32).max())
        iod = metrics.interocular_distance(s["landmarks"])
        nmes.append([metrics.nme(surface_points(p), s["face_verts"], iod) for p in (p32, p16)])
    nmes = np.array(nmes)
    assert max(moved) <= 0.03, moved
    assert abs(nmes[:, 1].mean() / nmes[:, 0].mean() - 1) < 0.01, nmes.mean(0)
    with pytest.raises(ValueError, match="precision must be one of"):
        Reconstructor(tiny_checkpoint, device="cpu", precision="fp8")


def test_a_detector_failing_on_one_image_skips_that_image(tmp_path, tiny_checkpoint, face, monkeypatch, run_cli):
    """dlib raises on images too small for its filters (a 1 x 1 or 5 x 5 image): that image is
    skipped with the reason, and the folder's other images are written."""
    from vrnfast.reconstruction import faces

    def detect(image, detector="auto"):
        if min(image.shape[:2]) < 8:
            raise RuntimeError("\n\nError detected at line 2957.\nFailing expression was filters.nr() <= "
                               "data.nr().\nFilter windows must be small enough to fit into the padded image.\n")
        return [faces.Face((8.0, 8.0, 48.0, 48.0), synthetic_sample(3, seed=99)["landmarks"][:, :2], 1.0, "hog")]

    monkeypatch.setattr(faces, "detect", detect)
    (tmp_path / "in").mkdir()
    Image.fromarray(face).save(tmp_path / "in" / "a.png")
    Image.new("RGB", (1, 1)).save(tmp_path / "in" / "dot.png")
    Image.new("RGB", (5, 5)).save(tmp_path / "in" / "speck.png")
    code, err = run_cli(["reconstruct", str(tmp_path / "in"), "--checkpoint", str(tiny_checkpoint), "-o",
                         str(tmp_path / "out"), "--format", "ply"])
    assert code == 1 and err[-1] == "vrnfast reconstruct: 2 of 3 images skipped (reasons above); 1 meshes written"
    for name in ("dot.png", "speck.png"):
        assert (f"{tmp_path / 'in' / name}: face detection failed (RuntimeError: Filter windows must be small "
                "enough to fit into the padded image.)") in "\n".join(err)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.json", "a.ply"]


def test_outputs_go_into_folders_that_do_not_exist_yet(tmp_path, tiny_checkpoint, face):
    Image.fromarray(face).save(tmp_path / "a.png")
    for out in ("new/face.glb", "newer/face.html", "x/y/face.obj"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / out),
              "--preview", str(tmp_path / "p" / out.replace("/", "_")).replace(".", "_") + ".png",
              "--detector", "none"])
        assert (tmp_path / out).is_file() and (tmp_path / out).with_suffix(".json").is_file()
    assert len(list((tmp_path / "p").glob("*.png"))) == 3


def test_ctrl_c_ends_a_run_with_whole_faces_and_one_line(tmp_path, tiny_checkpoint, face, monkeypatch, run_cli,
                                                         sigint):
    """Ctrl-C while the second face's preview is written: that face is finished (mesh, preview and
    record; the signal waits for them), nothing else is begun, no temporary file is left, and one
    line says what was written where; exit status 130."""
    import signal

    from vrnfast import io

    for k in range(5):
        Image.fromarray(np.roll(face, k, axis=1)).save(tmp_path / f"f{k}.png")
    saved = []
    real_save_png = io.save_png

    def save_png(path, image):
        saved.append(path)
        if len(saved) == 2:
            signal.raise_signal(signal.SIGINT)
        return real_save_png(path, image)

    monkeypatch.setattr(io, "save_png", save_png)
    code, err = run_cli(["reconstruct", *(str(tmp_path / f"f{k}.png") for k in range(5)), "--checkpoint",
                         str(tiny_checkpoint), "-o", str(tmp_path / "out"), "--preview", str(tmp_path / "out"),
                         "--batch-size", "1", "--detector", "none", "--format", "glb"])
    assert code == 130
    assert err[-1] == f"vrnfast reconstruct: interrupted; 2 meshes written to {tmp_path / 'out'} (each with its record), from 2 of 5 images read"
    assert not any("Traceback" in line for line in err)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "f0.glb", "f0.json", "f0_preview.png", "f1.glb", "f1.json", "f1_preview.png"]


def test_the_authors_model_frames_faces_as_their_demo_did(tmp_path, capsys):
    """The authors' run.sh: s = 90 / sqrt(w h) of the landmarks' box (minX, minY, w, h), the image
    scaled by s, then the 192 x 192 crop whose top-left corner is ((minX - w/2) s, (minY - h/2) s):
    not centred on the box. A converted checkpoint carries that rule (crop_rule); vrnfast's own
    models keep the centred square. The record's crop (image pixels -> network-input pixels)
    shows it."""
    from vrnfast.models import build_model

    lms = synthetic_sample(1, seed=5, size=192)["landmarks"][:, :2] * [1.7, 1.4] + [60, 25]  # a wide face
    image = np.random.default_rng(1).integers(0, 256, (420, 500, 3), dtype=np.uint8)
    # the formula, in pixel edges (the landmarks are pixel centres: an edge is a centre + 0.5)
    min_x, min_y = lms.min(axis=0) + 0.5
    w, h = lms.max(axis=0) - lms.min(axis=0)
    s = 90 / np.sqrt(w * h)
    corner = np.array([(min_x - w / 2) * s, (min_y - h / 2) * s])  # in the scaled image's pixels
    ck = {"model": build_model("vrn", "paper").state_dict(), "model_name": "vrn", "preset": "paper",
          "input_range": "0..1", "z_scale": 0.5, "crop_rule": "vrn-run.sh"}
    crop = Reconstructor(ck, device="cpu").framing(image.shape[:2], landmarks=lms)
    assert crop.size == 192 and crop.scale == pytest.approx(s, rel=1e-12)
    np.testing.assert_allclose([crop.x * s, crop.y * s], corner, rtol=0, atol=1e-9)
    centred = Reconstructor({k: v for k, v in ck.items() if k != "crop_rule"}, device="cpu").framing(
        image.shape[:2], landmarks=lms)
    assert centred.side == pytest.approx(crop.side) and abs(centred.x - crop.x) > 2  # the rules differ
    with pytest.raises(ValueError, match="rule must be one of"):
        face_crop((10, 10, 20, 20), (100, 100), 192, rule="centered")
    # the command line's record: the scaled image's pixel (i, j) is the crop's (i - corner)
    torch.save(ck, tmp_path / "authors.pt")
    Image.fromarray(image).save(tmp_path / "a.png")
    np.savetxt(tmp_path / "a.txt", lms)
    main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tmp_path / "authors.pt"), "--landmarks",
          str(tmp_path / "a.txt"), "-o", str(tmp_path / "a.ply"), "--device", "cpu", "--precision", "float32"])
    m = np.array(json.loads((tmp_path / "a.json").read_text())["crop"])
    scaled_pixel = np.array([37.0, 52.0])  # a pixel centre of the scaled image, (x, y)
    image_point = (scaled_pixel + 0.5) / s - 0.5  # the same point in the image's pixel centres
    np.testing.assert_allclose(m @ [*image_point, 1.0], scaled_pixel - corner, atol=1e-9)
