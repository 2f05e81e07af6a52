"""Drop-in replacements for other libraries' functions, with their signatures and conventions and
vrnfast's kernels underneath: `from vrnfast.compat.skimage import marching_cubes`."""
