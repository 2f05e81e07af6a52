"""Data: analytic example volumes (the synthetic face generator and datasets come later)."""
from .shapes import example_volume, face_volume, random_smooth, sphere, torus

__all__ = ["example_volume", "face_volume", "random_smooth", "sphere", "torus"]
