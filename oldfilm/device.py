"""Device and precision choice, shared by every stage.

``precision`` is one of ``"auto"``, ``"fp32"``, ``"bf16"``, ``"fp16"``. ``auto`` means bf16 autocast
on CPUs with native bf16 (avx512_bf16 / AMX) and fp16 on CUDA, but a stage only uses reduced
precision where it has been measured to keep its output within its stated tolerance
(see bench/ and docs/); stages pass ``allow_reduced=False`` otherwise.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Iterator

import torch

from .errors import OldfilmError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda when available else cpu; 'cuda' without a GPU is a one-line error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise OldfilmError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise OldfilmError(f"--device {name}: expected auto, cpu or cuda")
    return torch.device(name)


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (avx512_bf16 or AMX), where autocast is a speed-up."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for this device and precision request, or None for plain fp32."""
    if precision not in PRECISIONS:
        raise OldfilmError(f"--precision {precision}: expected one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if precision == "bf16" else torch.float16
    if precision == "fp16":
        raise OldfilmError("--precision fp16 is for CUDA; on CPU use bf16 or fp32")
    if precision == "bf16" or cpu_has_bf16():
        return torch.bfloat16
    return None


@contextlib.contextmanager
def inference(device: torch.device, precision: str = "auto", allow_reduced: bool = True) -> Iterator[None]:
    """torch.inference_mode plus autocast where allowed."""
    dtype = autocast_dtype(device, precision) if allow_reduced else None
    with torch.inference_mode():
        if dtype is None:
            yield
        else:
            with torch.autocast(device.type, dtype=dtype):
                yield


def disable_tf32() -> None:
    """Parity on GPU needs true fp32 matmuls."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
