"""A training run's folder: resumable checkpoints with optimizer state, a jsonl loss log, run.json.

Layout of ``runs/<name>/``::

    run.json              trainer, network configs, arguments, start time, machine
    log.jsonl             one JSON object per logged iteration (losses, lr, seconds)
    ckpt-0001200.pt       {"step", "phase", "seconds", "models", "optims", "rng", "extra"}

Checkpoints are written atomically and the newest ``keep`` are kept, so a run killed at any moment
resumes from its last complete checkpoint (``--resume``).
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...errors import OldfilmError


def machine() -> str:
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU {platform.processor() or platform.machine()}"
    return f"{dev}, {os.cpu_count()} cores visible, torch {torch.__version__}, {torch.get_num_threads()} threads"


@dataclass
class RunState:
    step: int = 0
    phase: str = ""
    seconds: float = 0.0            # training wall time over all sessions of this run
    extra: dict = field(default_factory=dict)


class RunDir:
    def __init__(self, path: str | Path, keep: int = 2):
        self.path = Path(path)
        self.keep = keep

    # ------------------------------------------------------------------ metadata
    def init(self, trainer: str, configs: dict, args: dict, resume: bool) -> None:
        """Create the folder; refuse to silently mix a new run into an old one."""
        if self.path.exists() and self.checkpoints() and not resume:
            raise OldfilmError(f"{self.path}: already holds a run; pass --resume to continue it or pick another --out")
        self.path.mkdir(parents=True, exist_ok=True)
        meta_path = self.path / "run.json"
        if resume and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("trainer") != trainer:
                raise OldfilmError(f"{self.path}: is a {meta.get('trainer')} run, not {trainer}")
            meta.setdefault("sessions", []).append({"started": _now(), "args": args, "machine": machine()})
        else:
            meta = {"trainer": trainer, "configs": configs, "args": args, "started": _now(), "machine": machine(),
                    "sessions": [{"started": _now(), "args": args, "machine": machine()}]}
        _atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True))

    def meta(self) -> dict:
        p = self.path / "run.json"
        if not p.is_file():
            raise OldfilmError(f"{self.path}: not a training run (no run.json)")
        return json.loads(p.read_text())

    def last_args(self) -> dict:
        """The arguments of the run's latest session (a resumed session may change iterations, crops or batch)."""
        meta = self.meta()
        return (meta.get("sessions") or [{}])[-1].get("args") or meta.get("args", {})

    # ------------------------------------------------------------------ checkpoints
    def checkpoints(self) -> list[Path]:
        return sorted(self.path.glob("ckpt-*.pt")) if self.path.is_dir() else []

    def latest(self) -> Path | None:
        c = self.checkpoints()
        return c[-1] if c else None

    def save(self, state: RunState, models: dict[str, torch.nn.Module], optims: dict[str, torch.optim.Optimizer],
             rng: np.random.Generator) -> Path:
        obj = {
            "step": state.step, "phase": state.phase, "seconds": state.seconds, "extra": state.extra,
            "models": {k: m.state_dict() for k, m in models.items()},
            "optims": {k: o.state_dict() for k, o in optims.items()},
            "rng": {"numpy": json.dumps(rng.bit_generator.state), "torch": torch.get_rng_state()},
        }
        dest = self.path / f"ckpt-{state.step:07d}.pt"
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".ckpt.", suffix=".tmp")
        os.close(fd)
        torch.save(obj, tmp)
        os.replace(tmp, dest)
        for old in self.checkpoints()[: -self.keep]:
            old.unlink(missing_ok=True)
        return dest

    def load(self, path: Path | None = None) -> dict:
        path = path or self.latest()
        if path is None:
            raise OldfilmError(f"{self.path}: no checkpoint to resume or export (ckpt-*.pt)")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - a truncated or foreign file
            raise OldfilmError(f"{path}: unreadable training checkpoint ({str(e).splitlines()[0][:160]})") from e

    def restore(self, ckpt: dict, models: dict[str, torch.nn.Module], optims: dict[str, torch.optim.Optimizer],
                rng: np.random.Generator) -> RunState:
        for k, m in models.items():
            if k in ckpt["models"]:
                m.load_state_dict(ckpt["models"][k])
        for k, o in optims.items():
            if k in ckpt["optims"]:
                o.load_state_dict(ckpt["optims"][k])
        rng.bit_generator.state = json.loads(ckpt["rng"]["numpy"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        return RunState(ckpt["step"], ckpt["phase"], ckpt["seconds"], dict(ckpt.get("extra", {})))

    # ------------------------------------------------------------------ log
    def log(self, record: dict) -> None:
        with open(self.path / "log.jsonl", "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def read_log(self) -> list[dict]:
        p = self.path / "log.jsonl"
        if not p.is_file():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
