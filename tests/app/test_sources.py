"""What reconstruct reads (vrnfast.reconstruction.sources) and how it frames a video's faces (photos.FaceFinder):
folders read recursively, unreadable files named, faces too small skipped, a video's frames
(written here with ffmpeg from a real photo) each with a record, a blank frame tracked."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vrnfast.reconstruction import framing as photos
from vrnfast.reconstruction import sources
from vrnfast.cli import main

from helpers import HAVE_WLP_SAMPLE, WLP_NAME, WLP_SAMPLE

needs_video = pytest.mark.skipif(not sources.video_available(), reason=f"video reading is not installed: {sources.VIDEO_HINT}")


def _touch_image(path, size=(20, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 40, 20)).save(path)


def test_folders_are_read_recursively_in_order_named_below_the_folder(tmp_path):
    for rel in ("b.png", "a/z.jpg", "a/deep/y.PNG", "a/notes.txt", "c.npy"):
        if rel.endswith((".txt", ".npy")):
            (tmp_path / "album" / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "album" / rel).write_text("not an image")
        else:
            _touch_image(tmp_path / "album" / rel)
    _touch_image(tmp_path / "b.png")
    found = sources.expand([tmp_path / "album", tmp_path / "b.png"])
    assert [s.path.relative_to(tmp_path).as_posix() for s in found] == [
        "album/a/deep/y.PNG", "album/a/z.jpg", "album/b.png", "b.png"]
    # album/b.png and b.png share their stem: each gets its position
    assert [s.name.as_posix() for s in found] == ["a/deep/y", "a/z", "b_2", "b_3"]
    got = list(sources.frames(found))
    assert [f.image.shape for f in got] == [(16, 20, 3)] * 4 and all(f.error is None and f.index is None for f in got)


def test_unreadable_inputs_are_frames_with_their_error(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    given = [tmp_path / "broken.jpg", tmp_path / "missing.png", tmp_path / "empty"]
    errors = [f.error for f in sources.frames(sources.expand(given))]
    assert errors[0].startswith("cannot read it as an image") and errors[1:] == [
        "no such file", "a folder without image or video files"]
    if sources.video_available():
        (junk,) = sources.frames(sources.expand([tmp_path / "junk.mp4"]))
        assert junk.image is None and junk.error.startswith("cannot read it as a video")


def _frame(source, index, image=None):
    return sources.Frame(source, index, image if image is not None else np.zeros((8, 8, 3), np.uint8))


def test_a_video_frame_without_a_face_is_framed_by_the_last_faces_for_a_while(monkeypatch):
    """FaceFinder with a stand-in detector: faces in frames 0 and 2 only."""
    found = {0: [photos.Framing("hog", (10, 10, 40, 40), np.full((68, 2), 30.0), 1.5)],
             2: [photos.Framing("hog", (12, 10, 40, 40), np.full((68, 2), 32.0), 1.4)]}
    monkeypatch.setattr(photos, "find_faces", lambda image, detector, which: list(found.get(int(image[0, 0, 0]), [])))
    video, photo = sources.Source(Path("v.mp4"), Path("v")), sources.Source(Path("p.png"), Path("p"))
    finder = photos.FaceFinder("auto")
    got = [finder(_frame(video, i, np.full((8, 8, 3), i, np.uint8))) for i in range(3 + photos.TRACK_FRAMES + 1)]
    assert [len(g) for g in got] == [1, 1, 1] + [1] * photos.TRACK_FRAMES + [0]
    assert [g[0].tracked for g in got[:-1]] == [False, True, False] + [True] * photos.TRACK_FRAMES
    np.testing.assert_array_equal(got[1][0].landmarks, found[0][0].landmarks)  # frame 1: frame 0's face
    np.testing.assert_array_equal(got[3][0].landmarks, found[2][0].landmarks)
    assert got[1][0].detector == "hog" and not found[0][0].tracked  # the original is left as it was
    # a photo is never tracked, nor is another video's face used
    assert finder(_frame(photo, None, np.full((8, 8, 3), 1, np.uint8))) == []
    other = sources.Source(Path("w.mp4"), Path("w"))
    assert finder(_frame(other, 1, np.full((8, 8, 3), 1, np.uint8))) == []


def test_a_face_too_small_to_frame_is_skipped_and_the_others_written(tmp_path, tiny_checkpoint, capsys):
    from skimage import data

    Image.fromarray(data.astronaut()).save(tmp_path / "a.png")
    with pytest.raises(SystemExit, match=r"1 faces skipped .*; 0 meshes written"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "o"),
              "--bbox", "200,100,4,5"])
    assert re.search(r"a.png: face too small to frame \(its crop is 1\d pixels of the photo; the network's 64-pixel "
                     r"input needs at least 16\)", capsys.readouterr().err)
    with pytest.raises(SystemExit, match=r"1 faces skipped"):
        main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "o"),
              "--bbox", "600,100,40,40"])
    assert "cannot frame the face: bbox (600.0, 100.0, 40.0, 40.0) lies outside the 512x512 image" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "o"),
          "--bbox", "170,70,110,120", "--format", "ply"])
    assert (tmp_path / "o" / "a.ply").is_file()


def test_a_folder_gives_its_tree_of_outputs(tmp_path, tiny_checkpoint):
    from vrnfast.data import synthetic_sample

    face = synthetic_sample(3, seed=99, size=64, depth=64)["image"].transpose(1, 2, 0)
    for rel in ("x.png", "sub/y.png"):
        (tmp_path / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(face).save(tmp_path / "in" / rel)
    main(["reconstruct", str(tmp_path / "in"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "out"),
          "--detector", "none", "--format", "ply", "--preview", str(tmp_path / "pv")])
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")) == [
        "sub", "sub/y.json", "sub/y.ply", "x.json", "x.ply"]
    assert (tmp_path / "pv" / "sub" / "y_preview.png").is_file()
    with pytest.raises(SystemExit, match="with several images, a folder or a video, give a directory"):
        main(["reconstruct", str(tmp_path / "in"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "f.obj")])


def test_videos_without_the_extra_say_which_to_install(tmp_path, tiny_checkpoint, monkeypatch):
    from vrnfast.cli import reconstruct  # noqa: F401  (the command reads video_available at its start)

    monkeypatch.setattr(sources, "video_available", lambda: False)
    (tmp_path / "clip.mp4").write_bytes(b"\x00")
    with pytest.raises(SystemExit, match=r"clip.mp4 is a video: .*pip install 'vrnfast\[video\]'"):
        main(["reconstruct", str(tmp_path / "clip.mp4"), "--checkpoint", str(tiny_checkpoint)])
    with pytest.raises(SystemExit, match="--every must be >= 1"):
        main(["reconstruct", str(tmp_path / "clip.mp4"), "--checkpoint", str(tiny_checkpoint), "--every", "0"])


def _photo():
    if HAVE_WLP_SAMPLE:
        return np.asarray(Image.open(WLP_SAMPLE / f"{WLP_NAME}.jpg").convert("RGB"))
    from skimage import data

    return data.astronaut()[:450, 20:470]


@needs_video
def test_video_frames_each_get_a_record_and_a_blank_frame_is_tracked(tmp_path, tiny_checkpoint):
    """Eight frames, 480 x 480 (a multiple of ffmpeg's 16-pixel blocks, so none is resized), the
    photo shifted by 4 pixels a frame and frame 5 blank; every other frame reconstructed."""
    from vrnfast.reconstruction import faces

    if not faces.available():
        pytest.skip(f"face detection is not installed: {faces.EXTRA_HINT}")
    import imageio.v3 as iio

    photo = _photo()
    frames = np.zeros((8, 480, 480, 3), np.uint8)
    for i in range(8):
        frames[i, 10:460, 4 * i:4 * i + 450] = photo
    frames[4] = 0
    iio.imwrite(tmp_path / "clip.mp4", frames, fps=10, plugin="FFMPEG")
    assert sources.count(sources.expand([tmp_path / "clip.mp4", tmp_path / "clip.mp4"]), every=2) == 8  # the bar's total
    out = tmp_path / "out"
    main(["reconstruct", str(tmp_path / "clip.mp4"), "--checkpoint", str(tiny_checkpoint), "-o", str(out),
          "--every", "2", "--format", "ply", "--batch-size", "3"])
    records = [json.loads((out / f"clip_{i:06d}.json").read_text()) for i in (0, 2, 4, 6)]
    assert sorted(p.name for p in out.glob("*.json")) == [f"clip_{i:06d}.json" for i in (0, 2, 4, 6)]
    assert [r["frame"] for r in records] == [0, 2, 4, 6] and [r["tracked"] for r in records] == [False, False, True, False]
    assert all(r["image"] == str(tmp_path / "clip.mp4") and r["image_size"] == [480, 480] for r in records)
    # the face moves 8 pixels between sampled frames; the blank frame keeps frame 2's landmarks
    x = [np.mean(np.array(r["landmarks"])[:, 0]) for r in records]
    assert abs(x[1] - x[0] - 8) < 3 and x[2] == x[1] and abs(x[3] - x[1] - 16) < 3
