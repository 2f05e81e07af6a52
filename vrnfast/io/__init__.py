"""Reading and writing: files written whole or not at all (files), images through Pillow (images),
mesh files and the map from a VRN volume's indices to image coordinates (meshes), and textured
meshes as OBJ and GLB (export)."""
from .files import TMP_MARK, atomic_write
from .images import as_hwc, image_bytes, load_image, save_png
from .meshes import OBJ_DECIMALS, save_mesh, save_obj, save_ply, volume_to_image

__all__ = ["TMP_MARK", "atomic_write", "as_hwc", "image_bytes", "load_image", "save_png", "OBJ_DECIMALS", "save_mesh",
           "save_obj", "save_ply", "volume_to_image"]
