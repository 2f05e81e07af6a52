"""Data: the procedural synthetic faces, and analytic example volumes."""
from .shapes import example_volume, face_volume, random_smooth, sphere, torus
from .synthetic import synthetic_sample

__all__ = ["example_volume", "face_volume", "random_smooth", "sphere", "synthetic_sample", "torus"]
