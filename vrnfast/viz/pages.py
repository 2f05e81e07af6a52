"""Self-contained HTML pages that open from disk with no server and no network: a reconstructed
face in 3-D beside its photo (`vrnfast reconstruct --format html`), and the pieces the evaluation
report (vrnfast.evaluation.report) is built from.

The 3-D view is Google's <model-viewer> (vendored in vrnfast/viewer/, its licences beside it),
inlined as a classic script; the mesh is the textured GLB of vrnfast.io.export as a data URI, and the
landmarks are the viewer's hotspots. Pages read a few settings from their URL's fragment, e.g.
`face.html#orbit=40deg,80deg&landmarks=off`, so a link (or a test) can open a face turned.
"""
from __future__ import annotations

import base64
import html
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..io import image_bytes

VIEWER_DIR = Path(__file__).resolve().parent / "viewer"
VIEWER_SCRIPT = VIEWER_DIR / "model-viewer-umd.min.js"
VIEWER_VERSION = "@google/model-viewer 4.4.0"
PHOTO_MAX_SIDE = 1024  # the photo beside the viewer is scaled down to this, as a JPEG
BACKGROUND = "#1d2127"  # the viewer's background; the browser tests look for pixels that are not it


@lru_cache(maxsize=1)
def viewer_script() -> str:
    try:
        text = VIEWER_SCRIPT.read_text(encoding="utf-8")
    except FileNotFoundError as e:  # pragma: no cover - only on a broken install
        raise RuntimeError(f"vrnfast's vendored viewer is missing ({VIEWER_SCRIPT}); reinstall vrnfast") from e
    return text.replace("</script", "<\\/script")  # it cannot end the inline <script> early


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def jpeg_uri(image: np.ndarray, max_side=PHOTO_MAX_SIDE, quality=90) -> str:
    return data_uri("image/jpeg", image_bytes(image, "JPEG", max_side, quality=quality))


def png_uri(image: np.ndarray) -> str:
    return data_uri("image/png", image_bytes(image, "PNG"))


def landmarks_on_mesh(mesh, landmarks_2d) -> np.ndarray | None:
    """(N, 3) image (x, y, z) of landmarks on the face: a model's own 3-D landmarks where it gives
    them, else each 2-D landmark lifted to the front of the mesh under it (the smallest z of the
    vertices within 2 pixels in (x, y), or of the nearest vertex). None without landmarks or mesh."""
    if mesh.landmarks_3d is not None:
        return np.asarray(mesh.landmarks_3d, np.float64)
    if landmarks_2d is None or len(mesh.verts) == 0:
        return None
    from scipy.spatial import cKDTree

    xy = np.asarray(landmarks_2d, np.float64)[:, :2]
    tree = cKDTree(mesh.verts[:, :2])
    z = mesh.verts[:, 2].astype(np.float64)
    near = tree.query_ball_point(xy, r=2.0)
    nearest = tree.query(xy)[1]
    front = np.array([z[idx].min() if idx else z[n] for idx, n in zip(near, nearest)])
    return np.column_stack([xy, front])


PAGE_STYLE = f"""
* {{ box-sizing: border-box; }}
html, body {{ margin: 0; height: 100%; }}
body {{ font: 14px/1.4 system-ui, sans-serif; color: #e8eaed; background: #111418; display: flex;
        flex-direction: column; }}
header {{ display: flex; gap: 1.5em; align-items: center; padding: 8px 14px; height: 44px;
          background: #0b0d10; white-space: nowrap; overflow: hidden; }}
header h1 {{ font-size: 15px; margin: 0; font-weight: 600; }}
header .info {{ color: #9aa0a6; }}
main {{ flex: 1; display: flex; min-height: 0; }}
#photo, #view {{ flex: 1 1 50%; min-width: 0; position: relative; }}
#photo {{ display: flex; align-items: center; justify-content: center; background: #111418; }}
#photo figure {{ position: relative; margin: 0; width: min(96%, calc((100vh - 64px) * var(--aspect))); }}
#photo img {{ display: block; width: 100%; height: auto; }}
#photo svg {{ position: absolute; inset: 0; width: 100%; height: 100%; }}
#photo circle {{ fill: #2ee6a6; stroke: #0b0d10; stroke-width: 0.3; }}
model-viewer {{ width: 100%; height: 100%; background: {BACKGROUND}; --poster-color: {BACKGROUND}; }}
.dot {{ width: 7px; height: 7px; padding: 0; border-radius: 50%; border: 1px solid #0b0d10;
        background: #2ee6a6; pointer-events: none; }}
.dot:not([data-visible]) {{ opacity: 0.3; }}
body.no-landmarks .dot, body.no-landmarks #photo svg {{ display: none; }}
#no-webgl {{ position: absolute; inset: 0; display: none; align-items: center; justify-content: center; }}
"""

# Settings from the fragment: orbit (model-viewer's camera-orbit, comma-separated) and landmarks=off.
PAGE_SCRIPT = """
(function () {
  const params = new URLSearchParams(location.hash.slice(1));
  const viewer = document.getElementById("viewer");
  const toggle = document.getElementById("landmarks");
  const show = (on) => document.body.classList.toggle("no-landmarks", !on);
  if (params.get("landmarks") === "off" && toggle) toggle.checked = false;
  if (toggle) { show(toggle.checked); toggle.addEventListener("change", () => show(toggle.checked)); }
  if (params.get("orbit")) {
    viewer.setAttribute("camera-orbit", params.get("orbit").split(",").join(" ") + " auto");
    viewer.updateComplete.then(() => viewer.jumpCameraToGoal());  // there at once, not in an animation
  }
  viewer.addEventListener("load", () => document.body.dataset.loaded = "yes");
  viewer.addEventListener("error", () => document.body.dataset.loaded = "error");
  if (!window.WebGLRenderingContext) document.getElementById("no-webgl").style.display = "flex";
})();
"""


def face_page(mesh, image, landmarks=None, title="vrnfast reconstruction") -> str:
    """The HTML of one face: `mesh` (vrnfast.reconstruction.reconstructor.Mesh, image pixels) textured with the
    photo `image` ((H, W, 3) uint8) in 3-D, the photo beside it, and the landmarks (2-D, (N, 2+),
    the photo's pixels) as dots on both, toggled."""
    from ..io.export import IMAGE_TO_GLTF, glb_bytes

    h, w = image.shape[:2]
    lm3 = landmarks_on_mesh(mesh, landmarks)
    lm2 = np.asarray(landmarks, np.float64)[:, :2] if landmarks is not None else (
        lm3[:, :2] if lm3 is not None else None)
    hotspots = "" if lm3 is None else "\n".join(
        f'<button class="dot" slot="hotspot-{i}" data-position="{x:.2f} {y:.2f} {z:.2f}" data-normal="0 0 1" '
        f'data-visibility-attribute="visible" tabindex="-1" aria-label="landmark {i + 1}"></button>'
        for i, (x, y, z) in enumerate(lm3 @ IMAGE_TO_GLTF.T.astype(np.float64)))
    dots = "" if lm2 is None else "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{max(w, h) / 250:.2f}"/>'
                                          for x, y in lm2)
    toggle = ('<label><input type="checkbox" id="landmarks" checked> landmarks</label>'
              if lm2 is not None or lm3 is not None else "")
    glb = data_uri("model/gltf-binary", glb_bytes(mesh, image))
    facts = f"{len(mesh.verts):,} vertices, {len(mesh.faces):,} triangles"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="vrnfast; viewer {html.escape(VIEWER_VERSION)}">
<title>{html.escape(title)}</title>
<style>{PAGE_STYLE}</style>
<script>{viewer_script()}</script>
</head><body>
<header><h1>{html.escape(title)}</h1><span class="info">{html.escape(facts)}</span>{toggle}
<span class="info">drag to turn, scroll to zoom</span></header>
<main>
<section id="photo"><figure style="--aspect: {w / h:.5f}"><img alt="the photo" src="{jpeg_uri(image)}">
<svg viewBox="0 0 {w} {h}" preserveAspectRatio="none">{dots}</svg></figure></section>
<section id="view">
<model-viewer id="viewer" src="{glb}" alt="the reconstructed face" camera-controls
  interaction-prompt="none" camera-orbit="0deg 90deg auto" environment-image="neutral" exposure="1"
  shadow-intensity="0" loading="eager" reveal="auto">
{hotspots}
</model-viewer>
<div id="no-webgl">This browser has WebGL off: the 3-D view needs it.</div>
</section>
</main>
<script>{PAGE_SCRIPT}</script>
</body></html>
"""


def save_face_page(path, mesh, image, landmarks=None) -> list[Path]:
    """face_page() written to `path` (atomically); the files written."""
    from ..io import atomic_write

    path = Path(path)
    text = face_page(mesh, image, landmarks, title=path.stem)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return [path]

