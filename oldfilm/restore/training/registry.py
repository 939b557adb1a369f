"""Where an exported network goes: its registered architecture name and its builtin file name."""
from __future__ import annotations

from typing import Callable

from ... import weights as W
from ...errors import OldfilmError


def arch_name_for(build: Callable) -> str:
    """The name under which a network family registered ``build`` (published.py)."""
    W._ensure_families()
    for arch in W._ARCHITECTURES.values():
        if arch.build is build or getattr(arch.build, "__wrapped__", None) is build:
            return arch.name
    raise OldfilmError(f"no registered architecture builds with {build.__module__}.{build.__name__}; "
                       "its family's published.py must register it before export")


def builtin_file(task: str, slot: str | None = None, fallback: str = "", model: str = "default") -> tuple[str, str]:
    """(file name, card path) of the builtin ``model``'s ``slot`` for ``task``."""
    try:
        entry = W.get_model(task, model)
    except OldfilmError:
        if fallback:
            return fallback, "checkpoints/" + fallback.replace(".safetensors", ".md")
        raise
    files = entry.builtin_files
    if not files:
        raise OldfilmError(f"the {task} model {model!r} has no builtin file in the registry")
    name = files[slot] if slot else next(iter(files.values()))
    return name, entry.card or "checkpoints/" + name.replace(".safetensors", ".md")
