"""Triton kernels of vrnfast, one module per op, installed as the subpackage vrnfast.kernels.

Importing this package does not import Triton; each kernel module does, when first used.
"""
