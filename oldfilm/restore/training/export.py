"""Export a training run to ``checkpoints/``: fp16 safetensors, its sha256 pinned in SHA256SUMS,
and a model card with architecture, data and licences, schedule, hours, hardware and quality."""
from __future__ import annotations

import json
import time
from pathlib import Path

from torch import nn

from ... import weights as W
from .run_dir import RunDir

DATA_LICENCES = """\
| data | use | licence |
| --- | --- | --- |
| ../shared/data/photos/imagenet_samples (869) | clean photos | ImageNet terms: research, non-commercial |
| ../shared/data/photos/bsds500 (300) | clean photos | research use |
| ../shared/data/photos/urban100, sun_hays80, set14_set5 (185) | clean photos | benchmark sets, research use |
| ../shared/data/photos/clothing_cc0 (1500, capped at 30% of draws) | clean photos | CC0 |
| ../shared/data/photos/debian_wallpaper_photos, pkg_samples (39) | clean photos | CC-BY-SA, GPL, CC0 |
| ../shared/data/photos/dexemplar_refs (33) | clean photos | MIT repository |
| ../shared/data/photos/faces_hires (108) | clean photos | mixed, research use |
| ../shared/data/faces/utkface (8000) | faces (face enhancer only) | UTKFace: non-commercial research |
| ../shared/data/overlays (6100) | real 35 mm film damage masks | MIT (FilmDamageSimulator) |

**Most of this data is for research, non-commercial use only** (ImageNet, BSDS500, the benchmark
sets, UTKFace). As with the published DeOldify and BOPBTL weights (trained on ImageNet and Pascal
VOC), whether these weights may be used commercially is not settled: treat them as research-use."""


def export_module(module: nn.Module, arch: str, config: dict, dest_dir: Path, file_name: str,
                  extra: dict | None = None) -> tuple[Path, str]:
    """Write one network as fp16 safetensors and pin its sha256. Returns (path, sha256)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / file_name
    W.save_builtin(module, arch, config, path, extra=extra)
    digest = _record_sha(path, dest_dir)
    return path, digest


def _record_sha(path: Path, dest_dir: Path) -> str:
    import os

    old = os.environ.get("OLDFILM_CHECKPOINTS")
    os.environ["OLDFILM_CHECKPOINTS"] = str(dest_dir)
    try:
        return W.record_builtin_sha(path)
    finally:
        if old is None:
            os.environ.pop("OLDFILM_CHECKPOINTS", None)
        else:
            os.environ["OLDFILM_CHECKPOINTS"] = old


def run_summary(run: RunDir, ckpt: dict) -> dict:
    meta = run.meta()
    log = run.read_log()
    return {
        "step": int(ckpt["step"]), "phase": ckpt["phase"], "hours": float(ckpt["seconds"]) / 3600,
        "machine": meta.get("machine", "?"), "started": meta.get("started", "?"),
        "sessions": len(meta.get("sessions", [])),
        "args": run.last_args(),
        "last_losses": {k: v for k, v in (log[-1] if log else {}).items() if k not in ("step", "time", "phase", "seconds", "lr")},
    }


def write_card(path: Path, title: str, sections: list[tuple[str, str]]) -> None:
    body = [f"# {title}", "", f"Exported {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `oldfilm train ... --export`.", ""]
    for head, text in sections:
        body += [f"## {head}", "", text.rstrip(), ""]
    path.write_text("\n".join(body))


def schedule_text(summary: dict, phases: list[tuple[str, int]]) -> str:
    a = summary["args"]
    lines = [
        f"- exported at iteration {summary['step']} (phase `{summary['phase']}`) of "
        + ", ".join(f"{n} {i}" for n, i in phases),
        f"- batch {a.get('batch')}, crops {a.get('crop')} px, Adam lr {a.get('lr')} (constant for half of each phase, then linear to 0)",
        f"- degradation recipe `{a.get('recipe')}` with overlays `{a.get('overlays')}`, seed {a.get('seed')}",
        f"- training time {summary['hours']:.2f} h over {summary['sessions']} session(s) on {summary['machine']}",
        f"- last logged losses: `{json.dumps(summary['last_losses'])}`",
        f"- command: `oldfilm train {summary.get('trainer', '...')} --out RUN ...` (full arguments in the run's run.json)",
    ]
    return "\n".join(lines)
