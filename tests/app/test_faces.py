"""vrnfast.reconstruction.faces: dlib's detectors and landmarks on real photos (the 300W-LP sample as
distributed, scikit-image's astronaut), against the files' own annotation."""
import numpy as np
import pytest
from PIL import Image

from vrnfast.reconstruction import faces
from vrnfast.training.augmentation import IBUG68_MIRROR
from vrnfast.data.crop import face_crop, landmark_box

from helpers import HAVE_WLP_SAMPLE, WLP_NAME, WLP_SAMPLE, WLP_SKIP, needs_wlp_sample

needs_faces = pytest.mark.skipif(not faces.available(), reason=f"face detection is not installed: {faces.EXTRA_HINT}")
needs_sample = needs_wlp_sample


def _sample():
    import scipy.io

    image = np.asarray(Image.open(WLP_SAMPLE / f"{WLP_NAME}.jpg").convert("RGB"))
    pt2d = scipy.io.loadmat(WLP_SAMPLE / f"{WLP_NAME}.mat")["pt2d"].T - 1.0  # MATLAB's 1-based pixels
    return image, pt2d


def _rotate(points, degrees, shape_hw):
    """Pixel centres under Pillow's Image.rotate(degrees) about the image centre (counter-clockwise
    on screen, y down)."""
    h, w = shape_hw
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    return (points - c) @ rot.T + c


def _check_against_annotation(image, truth):
    (face,) = faces.detect(image)
    iod = np.linalg.norm(truth[36] - truth[45])
    error = np.linalg.norm(face.landmarks - truth, axis=1).mean() / iod
    assert error < 0.08, error
    # the crop the landmarks give (vrnfast prepare's rule) against the annotation's: within 3 pixels
    # of the network's 192-pixel input and 3 % in scale
    ours = face_crop(landmark_box(face.landmarks), image.shape[:2], 192)
    ref = face_crop(landmark_box(truth), image.shape[:2], 192)
    shift = np.array([ours.x - ref.x, ours.y - ref.y]) * ref.scale
    assert np.abs(shift).max() < 3 and abs(ours.side / ref.side - 1) < 0.03, (shift, ours.side / ref.side)
    return face


@needs_faces
@needs_sample
@pytest.mark.parametrize("variant", ["as is", "flipped", "rotated 15"])
def test_landmarks_and_crop_match_the_annotation(variant):
    image, pt2d = _sample()
    if variant == "flipped":
        image = np.ascontiguousarray(image[:, ::-1])
        pt2d = np.stack([image.shape[1] - 1 - pt2d[:, 0], pt2d[:, 1]], 1)[list(IBUG68_MIRROR)]
    elif variant == "rotated 15":
        image = np.asarray(Image.fromarray(image).rotate(15, resample=Image.BILINEAR))
        pt2d = _rotate(pt2d, 15, image.shape[:2])
    face = _check_against_annotation(image, pt2d)
    assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32


@needs_faces
@needs_sample
def test_two_faces_side_by_side_are_ordered_left_to_right():
    image, _ = _sample()
    found = faces.detect(np.concatenate([image, image[:, ::-1]], axis=1))
    assert len(found) == 2 and found[0].box[0] < found[1].box[0]
    assert found[0].box[0] + found[0].box[2] <= image.shape[1] <= found[1].box[0]


@needs_faces
def test_astronaut_has_one_face_over_her_face():
    from skimage import data

    (face,) = faces.detect(data.astronaut())
    x, y, w, h = face.box
    centre = np.array([x + w / 2, y + h / 2])
    # her face: between the eyes at about (222, 118) in the 512 x 512 image, the nose below
    assert np.linalg.norm(centre - (222, 122)) < 25 and 60 < w < 130
    assert np.all((face.landmarks >= (x - 0.25 * w, y - 0.25 * h)) & (face.landmarks <= (x + 1.25 * w, y + 1.3 * h)))


@needs_faces
def test_textures_have_no_face():
    from skimage import data

    for texture in (data.brick(), data.grass(), data.gravel()):
        assert faces.detect(np.stack([texture] * 3, -1), "hog") == []


@needs_faces
@needs_sample
def test_cnn_finds_the_face_hog_misses():
    """Rotated 40 degrees, HOG's frontal detector scores the face below its threshold; "auto"
    then finds it with the CNN."""
    image, pt2d = _sample()
    turned = np.asarray(Image.fromarray(image).resize((320, 320)).rotate(40, resample=Image.BILINEAR))
    assert faces.detect(turned, "hog") == []
    (face,) = faces.detect(turned, "auto")
    assert face.detector == "cnn" and face.score >= faces.MIN_SCORE["cnn"]
    truth = _rotate(pt2d * 320 / 450 + (320 / 450 - 1) / 2, 40, (320, 320))  # pixel centres scaled
    x, y, w, h = face.box  # the box holds the eyes, the nose and the mouth (the upright shape
    for p in truth[[36, 45, 30, 48, 54]]:  # predictor itself does poorly at 40 degrees of roll)
        assert x <= p[0] <= x + w and y <= p[1] <= y + h, (p, face.box)


@needs_faces
def test_large_photos_are_searched_small_and_mapped_back():
    if not HAVE_WLP_SAMPLE:
        pytest.skip(WLP_SKIP)
    image, pt2d = _sample()
    big = np.zeros((1080, 1920, 3), np.uint8)
    big[:, 600:1680] = np.asarray(Image.fromarray(image).resize((1080, 1080), Image.BILINEAR))
    truth = (pt2d + 0.5) * 1080 / 450 - 0.5 + (600, 0)
    _check_against_annotation(big, truth)


def test_without_the_extra_it_says_which_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dlib(name, *args, **kwargs):
        if name == "dlib":
            raise ImportError("No module named 'dlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dlib)
    faces._dlib.cache_clear()
    try:
        with pytest.raises(faces.FacesUnavailable, match=r"pip install 'vrnfast\[faces\]'"):
            faces.detect(np.zeros((8, 8, 3), np.uint8))
    finally:
        faces._dlib.cache_clear()


def test_bad_detector_is_named():
    with pytest.raises(ValueError, match="detector must be one of"):
        faces.detect(np.zeros((8, 8, 3), np.uint8), "viola-jones")


@needs_faces
@needs_sample
def test_reconstruct_finds_frames_and_records_every_face(tmp_path, tiny_checkpoint, capsys):
    """A real photo, two copies side by side and a texture: a mesh and a record per face, left
    to right, the faces framed by their landmarks; the texture named and skipped, exit status 1."""
    import json

    from vrnfast.cli import main

    image, pt2d = _sample()
    Image.fromarray(image).save(tmp_path / "one.jpg")
    Image.fromarray(np.concatenate([image, image[:, ::-1]], axis=1)).save(tmp_path / "two.png")
    from skimage import data

    Image.fromarray(np.stack([data.brick()] * 3, -1)).save(tmp_path / "brick.png")
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match="1 of 3 images skipped .*; 3 meshes written"):
        main(["reconstruct", str(tmp_path / "one.jpg"), str(tmp_path / "two.png"), str(tmp_path / "brick.png"),
              "--checkpoint", str(tiny_checkpoint), "-o", str(out), "--format", "ply", "--device", "cpu"])
    assert "brick.png: no face found" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["one.json", "one.ply", "two_0.json", "two_0.ply", "two_1.json",
                                                     "two_1.ply"]
    one = json.loads((out / "one.json").read_text())
    assert one["detector"] == "hog" and one["image_size"] == [450, 450] and one["score"] >= faces.MIN_SCORE["hog"]
    lms = np.array(one["landmarks"])
    assert np.linalg.norm(lms - pt2d, axis=1).mean() / np.linalg.norm(pt2d[36] - pt2d[45]) < 0.08
    crop = face_crop(landmark_box(lms), image.shape[:2], 64, face_fraction=_fraction(tiny_checkpoint))
    np.testing.assert_allclose(np.array(one["crop"]) @ [100.0, 200.0, 1.0],
                               crop.from_image(np.array([[100.0, 200.0]]))[0], rtol=1e-6, atol=1e-3)
    left, right = (json.loads((out / f"two_{k}.json").read_text()) for k in (0, 1))
    assert (left["face"], right["face"]) == (0, 1) and left["box"][0] < 450 <= right["box"][0]
    with pytest.raises(SystemExit):  # the texture alone: nothing written
        main(["reconstruct", str(tmp_path / "brick.png"), "--checkpoint", str(tiny_checkpoint), "-o",
              str(tmp_path / "b.ply")])
    assert not (tmp_path / "b.ply").exists()
    main(["reconstruct", str(tmp_path / "two.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "l.ply"),
          "--faces", "largest", "--detector", "hog"])
    assert (tmp_path / "l.ply").exists() and json.loads((tmp_path / "l.json").read_text())["face"] == 0


def _fraction(checkpoint):
    import torch

    from vrnfast.data.crop import VRN_FACE_FRACTION

    return float(torch.load(checkpoint, weights_only=True).get("face_fraction", VRN_FACE_FRACTION))


@needs_faces
def test_images_too_small_for_dlib_are_not_given_to_it():
    """dlib's CNN raises on images under about 10 pixels, or aborts the process (an exception on one
    of its threads): a subprocess, so that an abort fails this test and not the whole run."""
    import subprocess
    import sys

    code = ("import numpy as np; from vrnfast.reconstruction import faces\n"
            "for shape in [(1, 1), (5, 5), (5, 5), (300, 9), (9, 300), (39, 600)]:\n"
            "    assert faces.detect(np.full((*shape, 3), 100, np.uint8)) == [], shape\n"
            "print('none found')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout == "none found\n", run.stderr[-2000:]


@needs_faces
def test_tiny_images_are_skipped_and_the_rest_written(tmp_path, tiny_checkpoint, run_cli):
    from skimage import data

    (tmp_path / "in").mkdir()
    Image.fromarray(data.astronaut()).save(tmp_path / "in" / "astronaut.png")
    for side in (1, 5):
        Image.new("RGB", (side, side), (120, 90, 80)).save(tmp_path / "in" / f"tiny{side}.png")
    code, err = run_cli(["reconstruct", str(tmp_path / "in"), "--checkpoint", str(tiny_checkpoint), "-o",
                         str(tmp_path / "out"), "--format", "ply", "--device", "cpu"])
    assert code == 1 and err[-1] == "vrnfast reconstruct: 2 of 3 images skipped (reasons above); 1 meshes written"
    for side in (1, 5):
        assert any(f"tiny{side}.png: no face found" in line for line in err), err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["astronaut.json", "astronaut.ply"]
