"""Where and how precisely the networks run: torch devices, moving tensors to them without making
the host wait, and the inference precision a CPU or GPU computes fast."""
from __future__ import annotations


def torch_device(device="auto"):
    """A torch.device from "auto" (CUDA when available), "cpu", "cuda" or "cuda:N"; ValueError
    naming `device` for anything else or a device this machine lacks."""
    import torch

    name = device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device {device!r} is not available here ({torch.cuda.device_count()} CUDA devices)")
    return dev


def to_device(t, device):
    """A CPU tensor on `device`; to a GPU through pinned memory without blocking, so the host
    never waits for the device (the copy is ordered on the current stream like a kernel)."""
    if t.device == device or device.type != "cuda":
        return t.to(device)
    return t.contiguous().pin_memory().to(device, non_blocking=True)


PRECISIONS = ("auto", "float32", "bf16")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products in hardware (AMX tiles or AVX-512 BF16), where
    bf16 autocast speeds the networks up; elsewhere oneDNN emulates it, slower than float32."""
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(p is not None and p() for p in probes)


def inference_precision(device, precision="auto") -> str:
    """The precision a network runs in for inference: bf16 autocast on CUDA and on CPUs with native
    bf16 ("auto"), float32 elsewhere; "float32" or "bf16" force one."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16()) else "float32"
