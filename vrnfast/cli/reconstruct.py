"""`vrnfast reconstruct`: photos, folders and videos -> a mesh and a JSON record per face.

Frames (vrnfast.reconstruction.sources) are read one by one; their faces (vrnfast.reconstruction.framing.FaceFinder) are framed
and gathered into network batches of --batch-size; each face's mesh, preview and record are
written as its batch comes back. Whatever cannot be read, holds no face or cannot be framed is
named on stderr and skipped, and the exit status is then 1.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..io.export import FORMATS
from ..models.names import MODELS, PRESET_NAMES
from .common import at_least_one, deferred_interrupt, interrupted

PROG = "vrnfast reconstruct"


def fail(message):
    sys.exit(f"{PROG}: {message}")


def say(line, file=None):
    """A line that leaves the progress bar whole."""
    from tqdm import tqdm

    tqdm.write(line, file=file or sys.stdout)


def parse_bbox(text):
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        fail(f"--bbox must be x,y,w,h (four numbers), got {text!r}")
    return box


@dataclass
class Job:
    """One face of a frame, framed, waiting for its network batch."""
    frame: object  # vrnfast.reconstruction.sources.Frame
    face: int | None  # its number, left to right, when the frame holds several
    framing: object  # vrnfast.reconstruction.framing.Framing
    crop: object  # vrnfast.data.crop.Crop
    detection_s: float


class Outputs:
    """Where a face's files go: -o FILE for a single photo, else -o DIR (default: here) / the
    frame's name (vrnfast.reconstruction.sources) [+ _K for face K of several] + the format's suffix."""

    def __init__(self, out, fmt, preview, single):
        self.file = Path(out) if single and out and Path(out).suffix and not Path(out).is_dir() else None
        for flag, given in (("-o", out), ("--preview", preview)):
            if given and Path(given).suffix and not Path(given).is_dir() and not single:
                fail(f"{flag} {given}: with several images, a folder or a video, give a directory")
        if self.file is not None and self.file.suffix.lower() not in (".obj", ".glb", ".ply", ".html"):
            fail(f"-o {out}: the mesh file must end in .obj, .glb, .ply or .html")
        self.dir = Path(out) if out and self.file is None else Path(".")
        self.suffix = self.file.suffix if self.file is not None else f".{fmt}"
        self.preview_file = Path(preview) if single and preview and Path(preview).suffix else None
        self.preview_dir = Path(preview) if preview and self.preview_file is None else None

    @staticmethod
    def _named(job, folder, ending) -> Path:
        name = job.frame.name if job.face is None else job.frame.name.with_name(f"{job.frame.name.name}_{job.face}")
        return folder / name.with_name(name.name + ending)  # its folders are made as it is written

    @staticmethod
    def _numbered(path, job) -> Path:
        return path if job.face is None else path.with_name(f"{path.stem}_{job.face}{path.suffix}")

    def mesh(self, job) -> Path:
        if self.file is not None:
            return self._numbered(self.file, job)
        return self._named(job, self.dir, self.suffix)

    def preview(self, job) -> Path | None:
        if self.preview_file is not None:
            return self._numbered(self.preview_file, job)
        return None if self.preview_dir is None else self._named(job, self.preview_dir, "_preview.png")


class Run:
    """The state of one command: the reconstructor, where outputs go, what was written and skipped."""

    def __init__(self, args, rec, outputs, unit="image"):
        self.args, self.rec, self.outputs, self.unit = args, rec, outputs, unit
        self.frames = self.frames_skipped = self.faces_skipped = self.written = 0

    def skip(self, label, why, face=False):
        """`label` and why on stderr; counted as a face (one of a frame's) or as a whole frame."""
        say(f"{PROG}: skipped: {label}: {why}", sys.stderr)
        if face:
            self.faces_skipped += 1
        else:
            self.frames_skipped += 1

    def jobs(self, frame, finder) -> list[Job]:
        """The faces of a frame, framed; the frame or its faces skipped, with why, where they cannot be."""
        from ..reconstruction.faces import FacesUnavailable
        from ..reconstruction.framing import too_small

        self.frames += 1
        if frame.error is not None:
            self.skip(frame.label, frame.error)
            return []
        t0 = time.perf_counter()
        try:
            framings = finder(frame)
        except FacesUnavailable as e:
            fail(f"{e}; or frame the face yourself with --bbox x,y,w,h or --landmarks FILE, or --detector none "
                 "for images that are face crops already")
        except Exception as e:  # the detector failing on one image (dlib on a tiny one, say) skips that image
            lines = [line.strip() for line in str(e).splitlines() if line.strip()]  # dlib's last line says why
            why = lines[-1] if lines else repr(e)
            self.skip(frame.label, f"face detection failed ({type(e).__name__}: {why})")
            return []
        detection_s = time.perf_counter() - t0
        if not framings:
            self.skip(frame.label, f"no face found (--detector {self.args.detector}; an image that is a face crop "
                                   "already takes --detector none)")
            return []
        jobs = []
        for k, framing in enumerate(framings):
            face = k if len(framings) > 1 else None
            label = frame.label if face is None else f"{frame.label} face {face}"
            try:
                crop = self.rec.framing(frame.image.shape[:2], framing.box, framing.landmarks)
            except ValueError as e:  # a box or landmarks off the photo, or absurd
                self.skip(label, f"cannot frame the face: {e}", face=True)
                continue
            why = too_small(crop)
            if why:
                self.skip(label, why, face=True)
                continue
            jobs.append(Job(frame, face, framing, crop, detection_s / len(framings)))
        return jobs

    def reconstruct(self, jobs):
        """One network batch of faces; their meshes, previews and records written."""
        meshes = self.rec.meshes_of_crops([j.frame.image for j in jobs], [j.crop for j in jobs])
        for job, mesh in zip(jobs, meshes):
            with deferred_interrupt():  # a face's files are written all together: Ctrl-C waits for them
                line = self.write(job, mesh)
                self.written += 1
            say(line)

    def write(self, job, mesh) -> str:
        """A face's mesh, preview and record; its line."""
        from ..io import atomic_write, save_png
        from ..reconstruction.framing import record
        from ..viz.render import preview

        image = job.frame.image
        path = self.outputs.mesh(job)
        t0 = time.perf_counter()
        files = self.rec.save(mesh, path, image, job.framing.landmarks)
        seconds = {"detection": job.detection_s, **mesh.seconds, "write": time.perf_counter() - t0}
        line = f"{job.frame.label} -> {path}: {len(mesh.verts)} vertices, {len(mesh.faces)} triangles"
        pv = self.outputs.preview(job)
        if pv is not None:
            files.append(save_png(pv, preview(job.crop.resize(image), job.crop.from_image(mesh.verts), mesh.faces,
                                              mesh.colors)))
            line += f"; preview {pv}"
        rec = record(job.frame.source.path, image.shape, job.face or 0, job.framing, job.crop, mesh, files,
                     seconds, frame=job.frame.index)
        text = json.dumps(rec, indent=1)
        atomic_write(path.with_suffix(".json"), lambda f: f.write(text.encode()))
        return line + (" (tracked)" if job.framing.tracked else "")

    def where(self) -> Path:
        """The folder the meshes go to."""
        return self.outputs.file.parent if self.outputs.file is not None else self.outputs.dir

    def summary(self):
        t = self.rec.timings
        if t.images:
            print(f"per face: crop {t.crop / t.images * 1e3:.1f} ms, network {t.network / t.images * 1e3:.1f} ms, "
                  f"marching cubes {t.marching_cubes / t.images * 1e3:.1f} ms, colouring "
                  f"{t.colouring / t.images * 1e3:.1f} ms, write {t.write / t.images * 1e3:.1f} ms ({self.rec.device})")
        if self.frames_skipped or self.faces_skipped:
            parts = [f"{self.frames_skipped} of {self.frames} {self.unit}s skipped (reasons above)"] * bool(self.frames_skipped)
            parts += [f"{self.faces_skipped} faces skipped (reasons above)"] * bool(self.faces_skipped)
            fail(f"{', '.join(parts)}; {self.written} meshes written")


def add_parser(sub):
    r = sub.add_parser("reconstruct", help="photos, folders, videos -> a textured mesh and a record per face")
    r.add_argument("images", nargs="+", metavar="INPUT",
                   help="image files (any format Pillow reads), folders of them (read recursively) or videos "
                        "(the video extra)")
    r.add_argument("--checkpoint", required=True, metavar="CK",
                   help="a checkpoint written by vrnfast train (best.pt / last.pt), its run directory (its best.pt), a "
                        "converted file, or a released model's name: vrn-unguided (the authors' VRN, downloaded and "
                        "converted into the cache on first use)")
    r.add_argument("-o", "--out", metavar="OUT.obj|.glb|.ply|.html|DIR", help="output .obj / .glb / .ply / .html (one image) or directory (default: here)")
    r.add_argument("--format", default="obj", choices=list(FORMATS),
                   help="mesh format when -o is a directory: obj (+ .mtl + .png texture: the photo), glb (binary "
                        "glTF, texture inside, y up), ply (vertex colours), html (a page showing the textured face "
                        "in 3-D beside the photo, landmarks toggled; opens from disk, no network)")
    r.add_argument("--every", type=int, default=1, metavar="N", help="a video's every N-th frame (default: all)")
    r.add_argument("--preview", metavar="PNG|DIR", help="preview PNG (one image) or directory: the crop beside the mesh from the front (coloured, "
                        "and shaded without colour: the shape alone) and from the side")
    r.add_argument("--bbox", metavar="x,y,w,h", help="x,y,w,h face box in pixels, instead of finding the faces")
    r.add_argument("--landmarks", metavar="FILE", help="68 (x, y) points of the face (.txt, .npy or .json), instead of finding the faces")
    r.add_argument("--detector", default="auto", choices=["auto", "hog", "cnn", "none"],
                   help="how faces are found (the faces extra: dlib): auto (HOG, then the CNN where HOG finds none), "
                        "hog, cnn; none: the centred square, for images that are face crops already")
    r.add_argument("--faces", default="all", choices=["all", "largest"],
                   help="every face found (a mesh each, numbered left to right), or the largest only")
    r.add_argument("--model", choices=MODELS, help="check the checkpoint is of this model")
    r.add_argument("--preset", choices=PRESET_NAMES, help="check the checkpoint is of this preset")
    r.add_argument("--z-scale", dest="z_scale", type=float, metavar="S",
                   help="depth scale of the volume's slices in pixels (default: the checkpoint's; 1 for vrnfast's "
                        "training, 0.5 for the authors' model converted by vrnfast convert)")
    r.add_argument("--device", default="auto", metavar="auto|cpu|cuda|cuda:N", help="cpu, cuda or cuda:N (default: cuda when available)")
    r.add_argument("--batch-size", dest="batch_size", type=int, default=8, metavar="N",
                   help="faces per network batch (default 8)")
    r.add_argument("--precision", choices=["auto", "float32", "bf16"], default="auto",
                   help="the network's: bf16 autocast on CUDA and on CPUs with native bf16 (AMX, AVX-512 BF16), "
                        "float32 elsewhere (auto); or force one")
    r.set_defaults(fn=run)


def run(args):
    from tqdm import tqdm

    from ..reconstruction.framing import FaceFinder, load_landmarks
    from ..checkpoints import CheckpointError
    from ..reconstruction.reconstructor import Reconstructor
    from ..reconstruction.sources import VIDEO_HINT, count, expand, frames, video_available

    if args.bbox and args.landmarks:
        fail("give --bbox or --landmarks, not both")
    at_least_one(PROG, args, "every", "batch_size")
    bbox = parse_bbox(args.bbox) if args.bbox else None
    try:
        landmarks = load_landmarks(args.landmarks) if args.landmarks else None
    except ValueError as e:
        fail(e)
    sources = expand(args.images)
    if any(s.video for s in sources) and not video_available():
        fail(f"{next(s.path for s in sources if s.video)} is a video: reading videos needs the optional extra: "
             f"{VIDEO_HINT}; or give its frames as images")
    single = len(sources) == 1 and not sources[0].video and not Path(args.images[0]).is_dir()
    outputs = Outputs(args.out, args.format, args.preview, single)
    try:
        rec = Reconstructor(args.checkpoint, device=args.device, model=args.model, preset=args.preset,
                            z_scale=args.z_scale, precision=args.precision)
    except (CheckpointError, ValueError) as e:
        fail(e)
    total = count(sources, args.every)
    unit = "frame" if any(s.video for s in sources) else "image"
    run = Run(args, rec, outputs, unit)
    finder = FaceFinder(args.detector, args.faces, bbox, landmarks)
    pending = []
    try:
        with tqdm(total=total, desc="reconstruct", unit=unit, disable=total is not None and total <= 1) as bar:
            for frame in frames(sources, args.every):
                pending += run.jobs(frame, finder)
                bar.update()
                while len(pending) >= args.batch_size:
                    run.reconstruct(pending[:args.batch_size])
                    del pending[:args.batch_size]
            if pending:
                run.reconstruct(pending)
    except KeyboardInterrupt:
        of = f" of {total}" if total is not None else ""
        interrupted(PROG, f"{run.written} meshes written to {run.where()} (each with its record), from "
                          f"{run.frames}{of} {unit}s read")
    run.summary()

