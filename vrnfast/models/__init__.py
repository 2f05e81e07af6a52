"""The networks of the paper: VRN, VRN-Guided and VRN-Multitask, with size presets."""
from .vrn import (MODELS, NUM_LANDMARKS, PRESETS, VRN, Preset, VRNGuided, VRNMultitask, build_model, describe,
                  normalize_images, parameter_count, upsample_volume)

__all__ = ["MODELS", "NUM_LANDMARKS", "PRESETS", "Preset", "VRN", "VRNGuided", "VRNMultitask", "build_model", "normalize_images",
           "describe", "parameter_count", "upsample_volume"]
