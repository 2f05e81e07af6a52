"""Textured meshes (vrnfast.io.export): OBJ + MTL + PNG and GLB, loaded back with trimesh; sampling
the texture at each vertex's texture coordinate gives the colour the PLY gives that vertex."""
import json

import numpy as np
import pytest
from PIL import Image

from vrnfast import Reconstructor
from vrnfast.cli import main
from vrnfast.io.export import IMAGE_TO_GLTF, texture_coordinates, texture_region
from vrnfast.reconstruction.reconstructor import save_face_mesh

trimesh = pytest.importorskip("trimesh")


@pytest.fixture(scope="module")
def photo():
    from skimage import data

    return data.astronaut()  # 512 x 512


@pytest.fixture(scope="module")
def meshes(tiny_checkpoint, photo):
    """A face reconstructed from a real photo, and one whose crop reaches past the photo's corner."""
    from vrnfast.reconstruction.reconstructor import Mesh, sample_colors

    inside = Reconstructor(tiny_checkpoint, device="cpu").mesh(photo, bbox=(170, 70, 110, 120))
    # the mesh's middle moved onto the photo's top-left corner, coloured as there: whatever shape the
    # briefly trained model gives, part of it lies past each edge and part inside
    lo, hi = inside.verts[:, :2].min(axis=0), inside.verts[:, :2].max(axis=0)
    past = inside.verts - np.float32([*(lo + hi) / 2, 0])
    return {"inside": inside, "past the edge": Mesh(past, inside.faces, sample_colors(photo, past), inside.normals)}


@pytest.fixture(scope="module")
def target_face(tiny_checkpoint):
    """A synthetic face's target volume through the reconstructor's meshing (the same axes, winding
    and colours as a prediction), so that geometric checks do not hang on what a briefly trained
    model learned on this machine."""
    import torch

    from vrnfast.data import synthetic_sample

    rec = Reconstructor(tiny_checkpoint, device="cpu")
    s = synthetic_sample(0, seed=7, size=rec.size, depth=rec.depth)
    image = np.ascontiguousarray(s["image"].transpose(1, 2, 0))
    return rec.mesh_of_volume(torch.from_numpy(s["volume"]).float(), image, rec.framing(image.shape[:2]))


def _bilinear(texture, uv):
    """Independent sampler: OBJ-convention UV (v up), texel centres at (i + 0.5) / size, clamped."""
    th, tw = texture.shape[:2]
    x = np.clip(uv[:, 0] * tw - 0.5, 0, tw - 1)
    y = np.clip((1 - uv[:, 1]) * th - 0.5, 0, th - 1)
    x0 = np.minimum(np.floor(x).astype(int), tw - 2)
    y0 = np.minimum(np.floor(y).astype(int), th - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    t = texture.astype(np.float64)
    return (t[y0, x0] * (1 - fx) * (1 - fy) + t[y0, x0 + 1] * fx * (1 - fy)
            + t[y0 + 1, x0] * (1 - fx) * fy + t[y0 + 1, x0 + 1] * fx * fy)


def _texture(material):
    picture = getattr(material, "image", None) or getattr(material, "baseColorTexture", None)
    assert picture is not None, "the mesh came back without its texture"
    return np.asarray(picture.convert("RGB"))


@pytest.mark.parametrize("where", ["inside", "past the edge"])
def test_textured_obj_and_glb_give_the_ply_colours(tmp_path, meshes, photo, where):
    from scipy.spatial import cKDTree

    mesh = meshes[where]
    assert save_face_mesh(tmp_path / "f.ply", mesh) == [tmp_path / "f.ply"]
    assert save_face_mesh(tmp_path / "f.obj", mesh, photo) == [tmp_path / n for n in ("f.obj", "f.mtl", "f.png")]
    assert save_face_mesh(tmp_path / "f.glb", mesh, photo) == [tmp_path / "f.glb"]
    ply = trimesh.load(tmp_path / "f.ply", process=False)
    colours = ply.visual.vertex_colors[:, :3].astype(np.float64)
    for name, to_image in (("f.obj", np.eye(3)), ("f.glb", IMAGE_TO_GLTF.T)):  # the GLB's axes are turned back
        back = trimesh.load(tmp_path / name, process=False, force="mesh")
        assert isinstance(back.visual, trimesh.visual.TextureVisuals) and back.visual.uv is not None
        dist, index = cKDTree(ply.vertices).query(back.vertices @ to_image)  # match vertices by position
        assert dist.max() < 1e-3 and len(np.unique(index)) == len(ply.vertices) == len(mesh.verts)
        np.testing.assert_array_equal(np.sort(index[back.faces], axis=None), np.sort(ply.faces, axis=None))
        sampled = _bilinear(_texture(back.visual.material), back.visual.uv)
        assert np.abs(sampled - colours[index]).max() <= 0.51, name  # the PLY's colours are rounded
    # the texture is the photo's own pixels under the mesh
    texture = np.asarray(Image.open(tmp_path / "f.png").convert("RGB"))
    x0, y0 = np.floor(mesh.verts[:, :2].min(0)).astype(int) - 1
    ys, xs = np.clip(y0 + np.arange(texture.shape[0]), 0, 511), np.clip(x0 + np.arange(texture.shape[1]), 0, 511)
    np.testing.assert_array_equal(texture, photo[ys[:, None], xs[None, :]])


def test_texture_region_repeats_the_edge_past_the_photo(rng):
    image = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    verts = np.array([[-2.3, -1.0, 0.0], [10.5, 8.2, 3.0]], np.float32)
    texture, (x0, y0) = texture_region(image, verts)
    pad = 6
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    np.testing.assert_array_equal(texture, padded[pad + y0:pad + y0 + texture.shape[0], pad + x0:pad + x0 + texture.shape[1]])
    assert x0 <= -3 and y0 <= -1 and x0 + texture.shape[1] >= 11.5 and y0 + texture.shape[0] >= 9.2
    uv = texture_coordinates(verts, (x0, y0), texture.shape)
    assert np.all((uv > 0) & (uv < 1))


def test_an_empty_mesh_is_written_empty(tmp_path, photo):
    from vrnfast.reconstruction.reconstructor import Mesh

    empty = Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32), np.zeros((0, 3), np.uint8),
                 np.zeros((0, 3), np.float32))
    for name in ("e.obj", "e.glb"):
        save_face_mesh(tmp_path / name, empty, photo)
        assert (tmp_path / name).stat().st_size > 0


def test_glb_is_upright_in_gltf_axes_and_without_a_photo_keeps_vertex_colours(tmp_path, target_face):
    mesh = target_face
    save_face_mesh(tmp_path / "c.glb", mesh)
    back = trimesh.load(tmp_path / "c.glb", process=False, force="mesh")
    np.testing.assert_allclose(back.vertices, mesh.verts * [1, -1, -1], atol=1e-4)
    np.testing.assert_array_equal(back.visual.vertex_colors[:, :3], mesh.colors)
    # the face's front (the fifth of the vertices nearest the camera) looks at a glTF viewer's
    # camera, on +z, and the triangles' winding agrees with the normals
    front = mesh.verts[:, 2] <= np.quantile(mesh.verts[:, 2], 0.2)
    assert np.mean(back.vertex_normals[front, 2]) > 0.5
    from_winding = back.face_normals
    stored = back.vertex_normals[back.faces].mean(axis=1)
    assert np.mean(np.sum(from_winding * stored, axis=1)) > 0.8
    with pytest.raises(ValueError, match=r"must end in .obj, .glb, .ply or .html"):
        save_face_mesh(tmp_path / "c.stl", mesh)


def test_reconstruct_writes_each_format_and_records_its_files(tmp_path, tiny_checkpoint, photo):
    Image.fromarray(photo).save(tmp_path / "astronaut.png")
    for fmt, files in (("obj", ["a.obj", "a.mtl", "a.png"]), ("glb", ["a.glb"]), ("ply", ["a.ply"])):
        out = tmp_path / fmt
        main(["reconstruct", str(tmp_path / "astronaut.png"), "--checkpoint", str(tiny_checkpoint), "-o", str(out),
              "--format", fmt, "--bbox", "170,70,110,120"])
        rec = json.loads((out / "astronaut.json").read_text())
        assert rec["mesh"] == [str(out / f.replace("a.", "astronaut.")) for f in files]
        assert all((out / f.replace("a.", "astronaut.")).is_file() for f in files)
        assert {"detection", "crop", "network", "marching_cubes", "colouring", "write"} <= set(rec["seconds"])
        back = trimesh.load(out / f"astronaut.{fmt}", process=False, force="mesh")
        assert len(back.vertices) == rec["vertices"] and len(back.faces) == rec["faces"]
