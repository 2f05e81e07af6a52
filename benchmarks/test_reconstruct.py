"""Reconstruction latency per photo, split into the stages of `vrnfast reconstruct`: finding
the face and its landmarks (dlib, the faces extra) on a 450 x 450 and a 1920 x 1080 photo, the
crop to the network's input, the network (last stack, sigmoid), marching cubes of the probability
volume at 0.5 (on the network's device, vertices back on the host), colouring (the map to image
coordinates and the bilinear colour lookup), and writing the mesh: textured OBJ + MTL + PNG, GLB,
or PLY. CPU at the tiny and paper presets; CUDA at the paper preset when a GPU is present.

The photo is scikit-image's astronaut. The network's weights are untrained (timing does not
depend on them); the volume meshed is a synthetic face's target, so the surface has the size of a
real face's.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vrnfast.data import synthetic_sample
from vrnfast.models import build_model
from vrnfast.data.crop import Crop
from vrnfast.reconstruction.reconstructor import Reconstructor

from conftest import SMALL

CASES = [("cpu", "tiny"), ("cpu", "paper")] + ([("cuda", "paper")] if torch.cuda.is_available() else [])
STAGES = ["crop", "network", "marching_cubes", "colouring", "write ply", "write obj", "write glb"]
PHOTOS = {"450x450": (450, 450), "1920x1080": (1920, 1080)}


def photo(size):
    """The astronaut at `size` (w, h): resized to the height, the sides filled with its edge pixels."""
    from PIL import Image
    from skimage import data

    w, h = size
    square = np.asarray(Image.fromarray(data.astronaut()).resize((h, h), Image.BILINEAR))
    left = (w - h) // 2
    return np.pad(square, ((0, 0), (left, w - h - left), (0, 0)), mode="edge")


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[1]}-{c[0]}")
def setup(request):
    device, preset = request.param
    torch.manual_seed(0)
    ck = {"model": build_model("vrn", preset).state_dict(), "model_name": "vrn", "preset": preset}
    rec = Reconstructor(ck, device=device)
    s = synthetic_sample(0, 0, rec.size, rec.depth)
    volume = torch.from_numpy(s["volume"]).float().to(rec.device)  # a face-sized surface
    return device, preset, rec, photo(PHOTOS["450x450"]), volume


@pytest.mark.parametrize("stage", STAGES)
def test_reconstruct_stage(benchmark, setup, stage, tmp_path):
    device, preset, rec, image, volume = setup
    crop = Crop(130.0, 40.0, 200.0, rec.size)  # about her face
    batch = torch.from_numpy(crop.resize(image)).permute(2, 0, 1)[None].contiguous()
    surface = rec.surface(volume)
    mesh = rec.colour(*surface, image, crop)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def network():
        out = rec.predict(batch)["volume"]
        sync()
        return out

    run = {"crop": lambda: crop.resize(image),
           "network": network,
           "marching_cubes": lambda: rec.surface(volume),
           "colouring": lambda: rec.colour(*surface, image, crop),
           "write ply": lambda: mesh.save(tmp_path / "face.ply"),
           "write obj": lambda: mesh.save(tmp_path / "face.obj", image),  # + .mtl + the .png texture
           "write glb": lambda: mesh.save(tmp_path / "face.glb", image)}[stage]
    if stage.startswith("write"):
        run()  # trimesh's first import is not the stage's time
    benchmark.group = f"reconstruct {preset} {device}"
    benchmark.extra_info.update(impl=stage, shape=[1, 3, rec.size, rec.size], device=device, target_dtype="uint8",
                                bytes_moved=0, vertices=len(mesh.verts), triangles=len(mesh.faces),
                                note="one stage of vrnfast reconstruct, per image")
    slow = preset == "paper" and device == "cpu" and stage == "network"
    benchmark.pedantic(run, rounds=3 if SMALL or slow else 20, warmup_rounds=1)
    assert len(mesh.verts) > 1000 and np.isfinite(mesh.verts).all()


@pytest.mark.parametrize("size", list(PHOTOS))
@pytest.mark.parametrize("stage", ["detect + landmarks", "detect + landmarks + crop"])
def test_find_and_frame_a_face(benchmark, size, stage):
    """dlib's HOG detector and 68-point predictor (single-threaded), then the crop the landmarks give."""
    from vrnfast.reconstruction import faces

    if not faces.available():
        pytest.skip(f"face detection is not installed: {faces.EXTRA_HINT}")
    from vrnfast.data.crop import face_crop, landmark_box

    image = photo(PHOTOS[size])
    faces.detect(image)  # the models load once

    def find():
        (face,) = faces.detect(image, "hog")
        return face

    def find_and_crop():  # framed for the paper preset's 192-pixel input
        return face_crop(landmark_box(find().landmarks), image.shape[:2], 192).resize(image)

    benchmark.group = "reconstruct: finding and framing a face"
    benchmark.extra_info.update(impl=f"{stage} {size}", shape=[PHOTOS[size][1], PHOTOS[size][0], 3], threads=1,
                                target_dtype="uint8", bytes_moved=0, note="one photo, dlib HOG on one core")
    out = benchmark.pedantic(find if stage == "detect + landmarks" else find_and_crop, rounds=3 if SMALL else 15,
                             warmup_rounds=1)
    assert out is not None


@pytest.mark.parametrize("fmt", ["glb", "ply"])
def test_photo_to_textured_mesh(benchmark, fmt, tmp_path):
    """A 450 x 450 photo to a written mesh, end to end, at the paper preset on the CPU: detection and
    landmarks (dlib HOG), the crop, the network (what Reconstructor.predict runs), marching cubes,
    colouring and the write (GLB: textured; PLY: vertex colours). The weights are untrained, so the
    surface meshed is a synthetic face's target of a real face's size, as in the stages above."""
    from vrnfast.reconstruction import faces

    if not faces.available():
        pytest.skip(f"face detection is not installed: {faces.EXTRA_HINT}")
    torch.manual_seed(0)
    ck = {"model": build_model("vrn", "paper").state_dict(), "model_name": "vrn", "preset": "paper"}
    rec = Reconstructor(ck, device="cpu")
    image = photo(PHOTOS["450x450"])
    volume = torch.from_numpy(synthetic_sample(0, 0, rec.size, rec.depth)["volume"]).float()
    faces.detect(image)  # the models load once

    def run():
        (face,) = faces.detect(image, "hog")
        crop = rec.framing(image.shape[:2], landmarks=face.landmarks)
        batch = torch.from_numpy(crop.resize(image)).permute(2, 0, 1)[None].contiguous()
        rec.predict(batch)
        mesh = rec.colour(*rec.surface(volume), image, crop)
        return mesh.save(tmp_path / f"face.{fmt}", image, face.landmarks)

    run()  # trimesh's first import is not the run's time
    benchmark.group = "reconstruct: a photo to a written mesh, end to end"
    benchmark.extra_info.update(impl=f"450x450 photo -> {fmt}", shape=[450, 450, 3], threads=torch.get_num_threads(),
                                precision=rec.precision, target_dtype="uint8", bytes_moved=0,
                                note="paper preset on the CPU: detection, landmarks, crop, network, marching "
                                     "cubes, colouring, write")
    files = benchmark.pedantic(run, rounds=3 if SMALL else 10, warmup_rounds=1)
    assert all(f.is_file() for f in files)
