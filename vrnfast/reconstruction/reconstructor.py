"""Image -> coloured face mesh with a trained VRN checkpoint: `vrnfast reconstruct`.

The image is cropped to a square (about a given face box, as training crops were made, or the
centred largest square), resized to the model's input size, and run through the network; the
last stack's volume, after a sigmoid, is meshed at 0.5 (marching cubes on the network's device). Vertices come back in the ORIGINAL image's
pixel coordinates: x right, y down, z depth away from the camera, all three in pixels (the volume's
depth is sampled like its rows: z_scale 1; VRN's original 200-slice volumes over 192 pixels used
0.5), and each vertex takes the colour of the image under it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import _backend as B
from .. import runtime
from ..checkpoints import CHECKPOINT_HINT, CheckpointError, load_model, resolve_checkpoint  # noqa: F401  (their home before)
from ..data.crop import VRN_FACE_FRACTION, Crop, centred_crop, face_crop, landmark_box
from ..io import load_image
from ..models import PRESETS, normalize_images, upsample_volume
from ..models.inference import for_inference


@dataclass
class Mesh:
    """verts (V, 3) float32 image (x, y, z) pixels; faces (F, 3) int32; colors (V, 3) uint8;
    normals (V, 3) float32 unit, pointing out of the face."""
    verts: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    normals: np.ndarray
    landmarks_3d: np.ndarray | None = None  # (68, 3) image (x, y, z): Guided / Multitask models' own
    crop: Crop | None = None  # how the image was framed for the network
    seconds: dict = field(default_factory=dict)  # the time it took, per stage

    def save(self, path, image=None, landmarks=None) -> list:
        """.ply (vertex colours), .obj or .glb: textured with the photo `image` it was made from,
        else vertex-coloured; .html: a page showing it in 3-D beside the photo, with the photo's
        `landmarks` (N, 2) as dots (vrnfast.viz.pages); the files written."""
        return save_face_mesh(path, self, image, landmarks)


def save_face_mesh(path, mesh, image=None, landmarks=None) -> list[Path]:
    """A reconstructed face by the path's suffix: .obj (textured with `image`, else vertex
    colours), .glb (likewise), .ply (vertex colours), .html (the textured face in 3-D beside the
    photo, with `landmarks` (N, 2) in the photo's pixels as dots; needs `image`); the files
    written."""
    from ..io.export import save_glb, save_textured_obj
    from ..io import save_mesh

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".obj" and image is not None:
        return save_textured_obj(path, mesh, image)
    if suffix == ".glb":
        return save_glb(path, mesh, image)
    if suffix == ".html":
        if image is None:
            raise ValueError("an .html page needs the photo: pass image")
        from ..viz.pages import save_face_page

        return save_face_page(path, mesh, image, landmarks)
    if suffix not in (".obj", ".ply"):
        raise ValueError(f"path must end in .obj, .glb, .ply or .html, got {str(path)!r}")
    save_mesh(path, mesh.verts, mesh.faces, colors=mesh.colors, normals=mesh.normals)
    return [path]


def sample_colors(image, xy):
    """Bilinear colours (V, 3) uint8 of an (H, W, 3) image at (x, y) pixel positions (clamped)."""
    h, w, _ = image.shape
    x = np.clip(xy[:, 0], 0, w - 1)
    y = np.clip(xy[:, 1], 0, h - 1)
    x0, y0 = np.minimum(x.astype(np.int64), w - 2 if w > 1 else 0), np.minimum(y.astype(np.int64), h - 2 if h > 1 else 0)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    img = image.astype(np.float32)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return np.clip(np.rint(top * (1 - fy) + bottom * fy), 0, 255).astype(np.uint8)


@dataclass
class Timings:
    """Seconds spent per stage over the calls so far."""
    crop: float = 0.0
    network: float = 0.0
    marching_cubes: float = 0.0
    colouring: float = 0.0
    write: float = 0.0
    images: int = 0


class Reconstructor:
    """A trained checkpoint ready to turn face images into meshes.

        rec = Reconstructor("runs/x/best.pt")
        mesh = rec.mesh("face.jpg", bbox=(x, y, w, h))   # Mesh in the image's pixel coordinates
        mesh.save("face.ply")
    """

    def __init__(self, checkpoint, device="auto", model=None, preset=None, z_scale=None, level=0.5,
                 precision="auto"):
        self.device = runtime.torch_device(device)
        # bf16 autocast where the hardware has it (CUDA, AMX / AVX-512 BF16 CPUs), else float32
        self.precision = runtime.inference_precision(self.device, precision)
        self.level = B.check_finite(level, "level")
        self.net, ck = load_model(checkpoint, model, preset, self.device)
        if self.device.type == "cpu":
            # batch norms folded, weights in the precision it runs in, convolutions fused with their
            # ReLUs and residual sums on oneDNN's reordered weights (vrnfast.models.inference)
            self.dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
            self.net = for_inference(self.net, self.dtype)
        else:  # cuDNN's fast layout; bf16 by autocast (what the GPU tests were written for)
            self.dtype = torch.float32
            self.net = self.net.to(memory_format=torch.channels_last)
        # the checkpoint's own depth scale (a converted authors' model: 0.5) unless one is given
        z_scale = ck.get("z_scale", 1.0) if z_scale is None else z_scale
        self.z_scale = B.check_finite(z_scale, "z_scale")
        if self.z_scale <= 0:
            raise ValueError(f"z_scale must be > 0, got {z_scale!r}")
        self.input_range = ck.get("input_range", "-1..1")
        self.model_name, self.preset = ck["model_name"], ck["preset"]
        # what evaluation needs of the checkpoint besides the weights
        self.checkpoint = {k: v for k, v in ck.items() if k not in ("model", "optimizer", "scheduler")}
        # the face box's share of the crop in the training data (VRN's for older checkpoints)
        self.face_fraction = float(ck.get("face_fraction", VRN_FACE_FRACTION))
        # where the square sits on the face box: the authors' demo rule for their converted model
        self.crop_rule = ck.get("crop_rule", "centred")
        p = PRESETS[self.preset]
        self.size, self.depth = p.image_size, p.depth
        self.timings = Timings()

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.no_grad()
    def predict(self, images):
        """(B, 3, S, S) uint8 crops -> dict: "volume" (B, D, S, S) float32 probabilities on the
        device, "heatmaps" (B, 68, S/2, S/2) probabilities or None."""
        x = torch.as_tensor(images).to(self.device)
        if x.dim() != 4 or x.shape[1:] != (3, self.size, self.size) or x.dtype != torch.uint8:
            raise ValueError(f"images must be uint8 (B, 3, {self.size}, {self.size}), got {x.dtype} {tuple(x.shape)}")
        autocast = self.precision == "bf16" and self.dtype != torch.bfloat16
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
            image = normalize_images(x, self.input_range).to(self.dtype).contiguous(memory_format=torch.channels_last)
            out = self.net(image, upsample=False)
        heat = out["landmarks"][-1].float().sigmoid() if out["landmarks"] else None
        # the last volume's logits upsampled in float32 (from the trunk's small maps: in bf16 and
        # channels_last the upsampling and the layout change cost several times more), sigmoid in place
        logits = out["volume"][-1].float().contiguous()
        volume = upsample_volume(self.net.preset, logits, (self.size, self.size)).sigmoid_()
        return {"volume": volume, "heatmaps": heat}

    def crop(self, image, bbox=None, landmarks=None):
        """(the (S, S, 3) crop the model sees, its Crop) of a loaded (H, W, 3) image (see framing)."""
        crop = self.framing(image.shape[:2], bbox, landmarks)
        return crop.resize(image), crop

    def framing(self, shape_hw, bbox=None, landmarks=None):
        """The Crop of an (H, W) image, framed as the training crops were: about the box of 68
        `landmarks` (x, y pixels; vrnfast prepare's rule), or about the face box bbox (x, y, w, h,
        pixel edges), the box's sqrt(w h) the training data's share of the side, the square centred
        on the box or, for the authors' converted model, where their demo put it (crop_rule);
        without either, the centred largest square."""
        if landmarks is not None:
            lms = np.asarray(landmarks, np.float64)
            if lms.ndim != 2 or lms.shape[1] != 2 or len(lms) < 2 or not np.isfinite(lms).all():
                raise ValueError(f"landmarks must be finite (N, 2) pixel positions, got shape {lms.shape}")
            bbox = landmark_box(lms)
        return (centred_crop(shape_hw, self.size) if bbox is None else
                face_crop(bbox, shape_hw, self.size, self.face_fraction, name="bbox" if landmarks is None else "landmarks",
                          rule=self.crop_rule))

    def surface(self, volume):
        """Marching cubes of one probability volume (D, S, S) at the level, on its device:
        numpy (verts (d, h, w), faces, normals)."""
        from ..ops.marching_cubes import marching_cubes

        out = marching_cubes(volume, self.level, return_normals=True)
        return tuple(B.as_numpy(a, "mesh") for a in out)

    def colour(self, verts, faces, normals, image, crop) -> Mesh:
        """A surface in the volume's (d, h, w) -> the Mesh in `image`'s coordinates and colours."""
        from ..io import volume_to_image

        # (d, h, w) -> image (x, y, z); normals alike (the crop scales all three axes equally)
        pts = volume_to_image(verts, self.z_scale)
        n = volume_to_image(normals, 1 / self.z_scale)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        pts = crop.to_image(pts)
        # swapping d and w is a reflection: reversing the winding keeps the right-hand normals
        # pointing out of the face
        return Mesh(pts, np.ascontiguousarray(faces[:, ::-1], dtype=np.int32), sample_colors(image, pts),
                    n.astype(np.float32))

    def mesh_of_volume(self, volume, image, crop, heatmaps=None) -> Mesh:
        """The mesh of one probability volume (D, S, S), in `image`'s coordinates and colours;
        with the model's heatmaps (68, S/2, S/2), its 68 3-D landmarks too."""
        t0 = time.perf_counter()
        surface = self.surface(volume)
        t1 = time.perf_counter()
        mesh = self.colour(*surface, image, crop)
        mesh.crop = crop
        if heatmaps is not None:
            mesh.landmarks_3d = self.landmarks_3d(volume, heatmaps, crop)
        t2 = time.perf_counter()
        self.timings.marching_cubes += t1 - t0
        self.timings.colouring += t2 - t1
        mesh.seconds = {"marching_cubes": t1 - t0, "colouring": t2 - t1}
        return mesh

    def landmarks_3d(self, volume, heatmaps, crop) -> np.ndarray:
        """(68, 3) image (x, y, z): the heatmaps' peaks, at the depth of the volume's front surface
        under each (as vrnfast evaluate scores them), mapped like the mesh."""
        from ..models.heatmaps import front_depth
        from ..models.heatmaps import peaks as landmarks_from_heatmaps

        vol = B.as_numpy(volume, "volume")
        xy = landmarks_from_heatmaps(B.as_numpy(heatmaps, "heatmaps")[None])[0]
        z = front_depth(vol, xy, self.level) * self.z_scale
        return crop.to_image(np.column_stack([xy, z]).astype(np.float32))

    def meshes(self, images, bboxes=None, landmarks=None):
        """Meshes of several images (paths or arrays), one network batch; each framed by its
        landmarks (68 x, y), else its box, else the centred square (see framing)."""
        if len(images) == 0:
            raise ValueError("images: no image given")
        loaded = [load_image(im) for im in images]
        bboxes = [None] * len(loaded) if bboxes is None else list(bboxes)
        landmarks = [None] * len(loaded) if landmarks is None else list(landmarks)
        for name, given in (("bboxes", bboxes), ("landmarks", landmarks)):
            if len(given) != len(loaded):
                raise ValueError(f"{name}: {len(given)} given for {len(loaded)} images")
        return self.meshes_of_crops(loaded, [self.framing(im.shape[:2], bb, lm)
                                             for im, bb, lm in zip(loaded, bboxes, landmarks)])

    def meshes_of_crops(self, images, crops):
        """Meshes of loaded (H, W, 3) uint8 images, each framed by its Crop, in one network batch;
        each Mesh's `seconds` gives its share of every stage."""
        if len(images) == 0 or len(images) != len(crops):
            raise ValueError(f"images and crops: one crop per image, at least one, got {len(images)} and {len(crops)}")
        t0 = time.perf_counter()
        batch = torch.from_numpy(np.stack([c.resize(im) for im, c in zip(images, crops)])).permute(0, 3, 1, 2)
        t1 = time.perf_counter()
        out = self.predict(batch.contiguous())
        self._sync()
        t2 = time.perf_counter()
        self.timings.crop += t1 - t0
        self.timings.network += t2 - t1
        self.timings.images += len(images)
        heat = out["heatmaps"] if out["heatmaps"] is not None else [None] * len(images)
        meshes = [self.mesh_of_volume(v, im, c, hm) for v, im, c, hm in zip(out["volume"], images, crops, heat)]
        for m in meshes:
            m.seconds = {"crop": (t1 - t0) / len(images), "network": (t2 - t1) / len(images), **m.seconds}
        return meshes

    def mesh(self, image, bbox=None, landmarks=None) -> Mesh:
        """The coloured mesh of one image (a path or an array), in its pixel coordinates."""
        return self.meshes([image], [bbox], [landmarks])[0]

    def save(self, mesh: Mesh, path, image=None, landmarks=None) -> list:
        """mesh.save, timed; the files written."""
        t0 = time.perf_counter()
        files = mesh.save(path, image, landmarks)
        self.timings.write += time.perf_counter() - t0
        return files
