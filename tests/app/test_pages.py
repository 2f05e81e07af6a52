"""The pages vrnfast writes (vrnfast.viz.pages, vrnfast.evaluation.report): what they hold, read back from the
HTML, and (where Chromium is installed) what a real browser draws from them, opened from disk
with the network cut off. VRNFAST_SCREENSHOTS=DIR keeps the browser tests' screenshots."""
import base64
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vrnfast
from vrnfast.data.synthetic import synthetic_sample
from vrnfast.evaluation.protocol import summarise
from vrnfast.io.export import IMAGE_TO_GLTF
from vrnfast.io import volume_to_image
from vrnfast.viz.pages import (BACKGROUND, VIEWER_SCRIPT, face_page, landmarks_on_mesh, save_face_page,
                           viewer_script)
from vrnfast.reconstruction.reconstructor import Mesh
from vrnfast.viz.render import caption_height
from vrnfast.evaluation.report import WorstFaces, report_page, save_report

from helpers import browser

DATA_URI = re.compile(r'data:([\w/+.-]+);base64,([A-Za-z0-9+/=]+)')
DOT_RGB = np.array([0x2E, 0xE6, 0xA6])  # vrnfast.viz.pages' landmark colour


def mesh_of_sample(sample) -> Mesh:
    """The sample's target surface as a reconstruction's Mesh: image (x, y, z) pixels, photo colours."""
    v, f, n = vrnfast.marching_cubes(sample["volume"].astype(np.float32), 0.5, return_normals=True)
    verts = volume_to_image(v)
    image = sample["image"].transpose(1, 2, 0)
    h, w = image.shape[:2]
    colors = image[np.clip(verts[:, 1].round().astype(int), 0, h - 1), np.clip(verts[:, 0].round().astype(int), 0, w - 1)]
    return Mesh(verts, np.ascontiguousarray(f[:, ::-1]), colors, -volume_to_image(n))


@pytest.fixture(scope="module")
def face():
    s = synthetic_sample(2, seed=7, size=96, depth=96)
    return mesh_of_sample(s), np.ascontiguousarray(s["image"].transpose(1, 2, 0)), s["landmarks"][:, :2]


def decoded(page, mime):
    return [base64.b64decode(d) for m, d in DATA_URI.findall(page) if m == mime]


def without_viewer_script(page):
    return page.replace(viewer_script(), "")


def test_face_page_holds_the_mesh_photo_and_landmarks(face):
    import trimesh

    mesh, image, lm = face
    page = face_page(mesh, image, lm, title="face")
    (glb,) = decoded(page, "model/gltf-binary")
    tm = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh", process=False)
    assert len(tm.vertices) == len(mesh.verts) and len(tm.faces) == len(mesh.faces)
    np.testing.assert_allclose(tm.vertices, mesh.verts @ IMAGE_TO_GLTF.T, atol=1e-4)  # glTF's axes
    (jpeg,) = decoded(page, "image/jpeg")
    assert Image.open(io.BytesIO(jpeg)).size == (image.shape[1], image.shape[0])
    # the landmarks: hotspots at the lifted 3-D points in glTF's axes, circles on the photo
    spots = np.array([[float(t) for t in p.split()] for p in re.findall(r'data-position="([^"]+)"', page)])
    np.testing.assert_allclose(spots, landmarks_on_mesh(mesh, lm) @ IMAGE_TO_GLTF.T, atol=0.006)
    circles = np.array(re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', page), float)
    np.testing.assert_allclose(circles, lm, atol=0.051)
    assert 'id="landmarks" checked' in page


def test_face_page_needs_no_network(face):
    page = face_page(*face)
    assert viewer_script() in page and len(viewer_script()) > 10**6  # inlined, whole
    own = without_viewer_script(page)
    assert not re.search(r'(src|href)="(?!data:)', own)  # everything it loads is inside it
    assert "http" not in own
    sha = hashlib.sha256(VIEWER_SCRIPT.read_bytes()).hexdigest()
    assert sha in (VIEWER_SCRIPT.parent / "README.md").read_text(encoding="utf-8")  # the pinned file


def test_a_face_without_landmarks_has_no_dots(face):
    mesh, image, _ = face
    page = face_page(mesh, image)
    assert "data-position" not in page and "<circle" not in page and 'id="landmarks"' not in page


def test_landmarks_are_lifted_to_the_front_of_the_mesh(face):
    mesh, _, lm = face
    lifted = landmarks_on_mesh(mesh, lm)
    np.testing.assert_array_equal(lifted[:, :2], lm)
    for (x, y), z in zip(lm, lifted[:, 2]):
        near = np.hypot(mesh.verts[:, 0] - x, mesh.verts[:, 1] - y) <= 2.0
        assert z == (mesh.verts[near, 2].min() if near.any() else z)
    far = landmarks_on_mesh(mesh, np.array([[-50.0, -50.0]]))  # off the mesh: its nearest vertex
    nearest = np.argmin(np.hypot(mesh.verts[:, 0] + 50, mesh.verts[:, 1] + 50))
    assert far[0, 2] == mesh.verts[nearest, 2]
    own = np.arange(6.0).reshape(2, 3)
    m = Mesh(mesh.verts, mesh.faces, mesh.colors, mesh.normals, landmarks_3d=own)
    np.testing.assert_array_equal(landmarks_on_mesh(m, lm), own)  # a model's own 3-D landmarks win
    assert landmarks_on_mesh(mesh, None) is None


def test_html_needs_the_photo(face, tmp_path):
    with pytest.raises(ValueError, match="needs the photo"):
        face[0].save(tmp_path / "f.html")
    assert save_face_page(tmp_path / "f.html", *face) == [tmp_path / "f.html"]
    assert (tmp_path / "f.html").read_text(encoding="utf-8").startswith("<!doctype html>")


# ---- the evaluation report ------------------------------------------------------------------------

def fake_result(n=14):
    rng = np.random.default_rng(0)
    rows = [{"name": f"face-{i}", "yaw": float(rng.uniform(-90, 90)), "iou": float(rng.uniform(0.3, 0.8)),
             "nme": float(rng.uniform(0.02, 0.1)), "baseline_iou": 0.4, "baseline_nme": float(rng.uniform(0.05, 0.12))}
            for i in range(n)]
    rows[3]["nme"] = None  # no surface predicted
    return {"checkpoint": "run/best.pt", "model": "vrn", "preset": "tiny", "data": "synthetic", **summarise(rows),
            "samples": rows}


def ced_png(size=(320, 200)):
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 90, 200)).save(buf, format="PNG")
    return buf.getvalue()


def worst_of(result, k=10):
    """WorstFaces fed the result's rows, with synthetic faces for their previews."""
    worst = WorstFaces(k, size=64)
    s = synthetic_sample(0, size=32, depth=32)
    for row in result["samples"]:
        worst(s, s["volume"].astype(np.float32), row)
    return worst


def table(page, table_id):
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [re.findall(r"<t[hd]>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_report_holds_the_metrics_yaw_bins_plot_and_worst_faces():
    result = fake_result()
    worst = worst_of(result).worst_first()
    page = report_page(result, ced_png(), worst)
    metrics = {r[0]: r[1:] for r in table(page, "metrics")}
    assert metrics["NME, mean"] == [f"{result['nme_mean']:.4f}", f"{result['baseline_nme_mean']:.4f}"]
    assert metrics["NME, median"] == [f"{result['nme_median']:.4f}", f"{result['baseline_nme_median']:.4f}"]
    assert metrics["IoU, mean"] == [f"{result['iou_mean']:.3f}", f"{result['baseline_iou_mean']:.3f}"]
    yaw = table(page, "yaw")
    assert [r[0] for r in yaw] == [f"{b}&deg;" for b in result["yaw_bins"]]
    for r, b in zip(yaw, result["yaw_bins"].values()):
        assert r[1] == str(b["n"]) and r[2] == (f"{b['nme_mean']:.4f}" if b["nme_mean"] is not None else "&ndash;")
    assert decoded(page, "image/png")[0] == ced_png()  # the plot, as given
    # the ten worst: the failed face first, then by NME, highest first
    expect = sorted(result["samples"], key=lambda r: -np.inf if r["nme"] is None else -r["nme"])[:10]
    names = re.findall(r"<figcaption><b>\d+\. ([^<]+)</b>", page)
    assert names == [r["name"] for r in expect]
    assert "no surface predicted" in page
    previews = decoded(page, "image/png")[1:]
    assert len(previews) == 10 and Image.open(io.BytesIO(previews[0])).size[1] == 64 + caption_height(64)


def test_worst_faces_renders_only_the_faces_it_keeps(monkeypatch):
    result = fake_result(30)
    calls = []
    monkeypatch.setattr(WorstFaces, "_preview", lambda self, image, prob, z: calls.append(1) or np.zeros((2, 2, 3), np.uint8))
    worst = worst_of(result, k=5)
    order = sorted(result["samples"], key=lambda r: -np.inf if r["nme"] is None else -r["nme"])
    assert [e["row"]["name"] for e in worst.worst_first()] == [r["name"] for r in order[:5]]
    assert 5 <= len(calls) < 30


# ---- in a browser ---------------------------------------------------------------------------------

def keep(shot: Path):
    folder = os.environ.get("VRNFAST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)


def drawn(region, colour=BACKGROUND, tol=30):
    """Fraction of pixels that are not `colour`."""
    return float((np.abs(region.astype(int) - browser.hex_rgb(colour)).sum(-1) > tol).mean())


def dots(region, tol=40):
    return int((np.abs(region.astype(int) - DOT_RGB).sum(-1) < tol).sum())


@pytest.fixture(scope="module")
def chromium():
    if browser.find_chromium() is None:
        pytest.skip("no Chromium (Debian: apt-get install chromium; or set VRNFAST_CHROMIUM)")
    b = browser.Browser()
    yield b
    b.close()


LOADED = "document.body.dataset.loaded === 'yes'"  # vrnfast.viz.pages: the viewer has the GLB


def test_a_browser_draws_the_face_turns_it_and_toggles_the_landmarks(chromium, face, tmp_path):
    page = tmp_path / "face.html"
    save_face_page(page, *face)

    def shot(name):
        path = tmp_path / f"face-{name}.png"
        region = browser.viewer_region(chromium.screenshot(path))
        keep(path)
        return region

    chromium.open(page, ready=LOADED)
    front = shot("front")
    chromium.eval("document.getElementById('landmarks').click()")  # the page's own toggle
    chromium.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    bare = shot("no-landmarks")
    chromium.open(page, "orbit=60deg,75deg&landmarks=off", ready=LOADED)  # settings from the URL
    turned = shot("turned")
    assert drawn(front) > 0.05 and drawn(turned) > 0.05  # the face covers part of the view
    assert np.abs(bare.astype(int) - turned).mean() > 2  # turning it changed the picture (both dotless)
    assert dots(front) > 50 and dots(bare) < dots(front) / 20 and dots(turned) < dots(front) / 20
    loaded = chromium.eval("performance.getEntries().map(e => e.name)")
    assert not [u for u in loaded if u.startswith("http")]  # nothing came from a network


def test_a_browser_shows_the_report(chromium, tiny_checkpoint, tmp_path):
    """A real report (the README shows this screenshot): the tests' tiny model on 12 faces."""
    from vrnfast.evaluation.protocol import evaluate, write_outputs

    worst = WorstFaces()
    result = evaluate(tiny_checkpoint, "synthetic", n=12, progress=False, on_face=worst)
    write_outputs(result, tmp_path / "r.json", tmp_path / "ced.png")
    page = save_report(tmp_path / "report.html", result, tmp_path / "ced.png", worst.worst_first())
    chromium.open(page, window=(1200, 1400), ready="document.body.dataset.ced")
    with Image.open(tmp_path / "ced.png") as ced:
        assert chromium.eval("document.body.dataset.ced") == "{}x{}".format(*ced.size)  # the plot decoded
    cells = chromium.eval("[...document.querySelectorAll('#metrics td')].map(td => td.textContent)")
    assert cells[:2] == [f"{result['nme_mean']:.4f}", f"{result['baseline_nme_mean']:.4f}"]
    assert chromium.eval("document.querySelectorAll('#yaw tbody tr').length") == len(result["yaw_bins"])
    assert chromium.eval("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    shot = chromium.screenshot(tmp_path / "report.png")
    keep(tmp_path / "report.png")
    box = chromium.eval("(r => [r.left, r.top, r.right, r.bottom])(document.getElementById('ced').getBoundingClientRect())")
    l, t, r, b = (int(round(v)) for v in box)
    with Image.open(tmp_path / "ced.png") as ced:  # the plot is on the screen where the page put it
        want = np.asarray(ced.convert("RGB").resize((r - l, b - t), Image.BILINEAR), dtype=np.float64)
    assert np.abs(shot[t:b, l:r, :3] - want).mean() < 12


# ---- from the command line ------------------------------------------------------------------------

def test_reconstruct_writes_a_page_per_face(tiny_checkpoint, tmp_path, capsys):
    from vrnfast.cli import main

    s = synthetic_sample(5, seed=3, size=64, depth=64)
    Image.fromarray(s["image"].transpose(1, 2, 0)).save(tmp_path / "a.png")
    main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "out"),
          "--format", "html", "--detector", "none"])
    page = (tmp_path / "out" / "a.html").read_text(encoding="utf-8")
    record = json.loads((tmp_path / "out" / "a.json").read_text())
    assert record["mesh"] == [str(tmp_path / "out" / "a.html")]
    (glb,) = decoded(page, "model/gltf-binary")
    assert glb[:4] == b"glTF" and f"{record['vertices']:,} vertices" in page
    main(["reconstruct", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "b.html"),
          "--detector", "none"])
    assert (tmp_path / "b.html").read_text(encoding="utf-8").startswith("<!doctype html>")


def test_evaluate_writes_the_report(tiny_checkpoint, tmp_path, capsys):
    from vrnfast.cli import main

    main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--n", "12", "--json", str(tmp_path / "r.json"),
          "--html", str(tmp_path / "report.html")])
    assert "report.html" in capsys.readouterr().out
    result = json.loads((tmp_path / "r.json").read_text())
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert decoded(page, "image/png")[0] == (tmp_path / "r-ced.png").read_bytes()
    names = re.findall(r"<figcaption><b>\d+\. ([^<]+)</b>", page)
    worst = sorted(result["samples"], key=lambda r: -np.inf if r["nme"] is None else -r["nme"])[:10]
    assert names == [r["name"] for r in worst]
    assert table(page, "metrics")[0][1] == f"{result['nme_mean']:.4f}"
    with pytest.raises(SystemExit, match="must end in .html"):
        main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--n", "1", "--html", str(tmp_path / "r.pdf")])
