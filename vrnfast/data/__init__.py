"""Data: the procedural synthetic faces, and analytic example volumes."""
from .dataset import DatasetError, FaceDataset, read_sample, write_index, write_sample
from .shapes import example_volume, face_volume, random_smooth, sphere, torus
from .synthetic import synthetic_sample

__all__ = ["DatasetError", "FaceDataset", "example_volume", "face_volume", "random_smooth", "read_sample", "sphere",
           "synthetic_sample", "torus", "write_index", "write_sample"]
