"""Model registry: name -> architecture + checkpoint + sha256 + model card.

Two families of weights (docs/ARCHITECTURE.md):

* **builtin**: ours, in ``checkpoints/`` as fp16 safetensors whose metadata names the
  architecture and its config (``oldfilm.arch``, ``oldfilm.config``), with a model card beside it.
* **published**: DeOldify and BOPBTL ``.pth`` files that users already have. ``import_file``
  recognises them by their keys, checks every shape by building the network and loading strictly,
  and stores a copy with its sha256 under ``$OLDFILM_HOME/weights`` (default
  ``~/.local/share/oldfilm/weights``). Loading never executes code from a file
  (``torch.load(weights_only=True)``, safetensors).

Network families plug in by registering, at import of their ``published`` module:

* an :class:`Architecture` (config dict -> ``nn.Module``) for builtin checkpoints;
* a :class:`Recognizer` per published file kind (keys -> strict-loaded module);
* :class:`ModelEntry` rows: the named models users pick (``--colorizer artistic``).

A *slot* is one file a model needs, e.g. ``bopbtl-vae-a``. A model is a tuple of slots.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import nn

from .errors import NoWeightsError, OldfilmError, WeightsFormatError

REPO_ROOT = Path(__file__).resolve().parent.parent
FAMILY_MODULES = (
    "oldfilm.colorize.published",
    "oldfilm.restore.published",
    "oldfilm.restore.faces.published",
)
TASKS = ("colorize", "restore", "scratch", "face")

StateDict = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class Architecture:
    """Builds a network of one family from a JSON-able config (our builtin checkpoints)."""

    name: str
    build: Callable[[dict], nn.Module]


@dataclass(frozen=True)
class Recognizer:
    """Recognises one kind of published checkpoint by its keys and builds the network for it.

    ``match`` sees the unwrapped state_dict and returns True for its kind; it must be cheap
    (keys and a few shapes). ``build`` constructs the network, loads ``sd`` strictly (every key
    and shape), and returns it in eval mode, float32, on CPU; it raises WeightsFormatError
    (via :func:`strict_load`) on any mismatch. ``slots`` are the registry slots this kind can
    fill; ``slot_from_path`` picks one from the file's path when the keys cannot tell (VAE A/B).
    """

    kind: str
    match: Callable[[StateDict], bool]
    build: Callable[[StateDict], nn.Module]
    slots: tuple[str, ...]
    slot_from_path: Callable[[Path], str | None] | None = None
    description: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """A named model users can pick. ``slots`` are the files it needs, in pipeline order.

    ``builtin`` entries name files in ``checkpoints/`` (slot -> file name); the sha256 of each is
    pinned in ``checkpoints/SHA256SUMS`` (written by :func:`record_builtin_sha` when a training run
    exports a checkpoint) and checked by ``verify``.
    """

    task: str
    name: str
    slots: tuple[str, ...]
    description: str
    builtin_files: Mapping[str, str] = field(default_factory=dict)
    card: str = ""               # path of the model card, relative to the repo root
    # colorize: the render factor a photo gets when the user names none (None: DeOldify's 35).
    # The square that suits a generator depends on the views it was trained on, so it is the model's.
    photo_render_factor: int | None = None

    @property
    def builtin(self) -> bool:
        return bool(self.builtin_files)


_ARCHITECTURES: dict[str, Architecture] = {}
_RECOGNIZERS: list[Recognizer] = []
_MODELS: dict[tuple[str, str], ModelEntry] = {}
_loaded_families = False


def register_architecture(arch: Architecture) -> None:
    _ARCHITECTURES[arch.name] = arch


def register_recognizer(rec: Recognizer) -> None:
    _RECOGNIZERS[:] = [r for r in _RECOGNIZERS if r.kind != rec.kind] + [rec]


def register_model(entry: ModelEntry) -> None:
    if entry.task not in TASKS:
        raise ValueError(f"unknown task {entry.task!r}")
    _MODELS[(entry.task, entry.name)] = entry


def _ensure_families() -> None:
    global _loaded_families
    if not _loaded_families:
        _loaded_families = True
        for mod in FAMILY_MODULES:
            importlib.import_module(mod)


def recognizers() -> list[Recognizer]:
    _ensure_families()
    return list(_RECOGNIZERS)


def models(task: str | None = None) -> list[ModelEntry]:
    _ensure_families()
    return [m for (t, _), m in sorted(_MODELS.items()) if task is None or t == task]


def get_model(task: str, name: str) -> ModelEntry:
    _ensure_families()
    try:
        return _MODELS[(task, name)]
    except KeyError:
        names = ", ".join(n for (t, n) in sorted(_MODELS) if t == task) or "none"
        raise OldfilmError(f"unknown {task} model {name!r} (known: {names})") from None


# --------------------------------------------------------------------------- files and store


def home() -> Path:
    """Where imported weights live: $OLDFILM_HOME, else $XDG_DATA_HOME/oldfilm, else ~/.local/share."""
    env = os.environ.get("OLDFILM_HOME")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "oldfilm"


def store_dir() -> Path:
    return home() / "weights"


def checkpoints_dir() -> Path:
    return Path(os.environ.get("OLDFILM_CHECKPOINTS", REPO_ROOT / "checkpoints"))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _read_index() -> dict:
    p = store_dir() / "index.json"
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise OldfilmError(f"{p}: unreadable weights index ({e}); remove it and import again") from e


def _write_index(index: dict) -> None:
    d = store_dir()
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".index.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
    os.replace(tmp, d / "index.json")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint without executing code and unwrap the published containers.

    Accepts a bare state_dict, ``{'model': sd, ...}`` (fastai Learner.save) and
    ``{'model_state': sd, ...}`` (BOPBTL detector), and ``.safetensors``.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsFormatError(path, "no such file")
    if path.stat().st_size == 0:
        raise WeightsFormatError(path, "empty file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except Exception as e:  # noqa: BLE001 - any parse failure is a format error
            raise WeightsFormatError(path, f"not a readable safetensors file ({e})") from e
    with open(path, "rb") as f:
        head = f.read(2)
    # torch.save writes a zip archive (torch>=1.6) or a protocol-2 pickle; anything else would only
    # give an opaque unpickler error such as "KeyError: '101'".
    if not (head.startswith(b"PK") or head.startswith(b"\x80")):
        raise WeightsFormatError(path, "not a PyTorch checkpoint (neither a zip archive nor a pickle)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickle/zip errors, or a pickle that wants code
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsFormatError(path, f"not a weights-only PyTorch checkpoint ({first[:200]})") from e
    for wrapper in ("model", "model_state", "state_dict"):
        if isinstance(obj, dict) and wrapper in obj and isinstance(obj[wrapper], dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsFormatError(path, "does not hold a state_dict of tensors")
    return obj


def strict_load(module: nn.Module, sd: StateDict, path: str | Path = "<state_dict>") -> nn.Module:
    """Load every key with its exact shape, or raise one WeightsFormatError line."""
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    wrong = [k for k in own if k in sd and tuple(own[k].shape) != tuple(sd[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} wrong shapes (first: {k} {tuple(sd[k].shape)} != {tuple(own[k].shape)})")
        raise WeightsFormatError(path, "; ".join(parts))
    module.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, strict=True)
    return module.float().eval()


def recognize(sd: StateDict, path: str | Path = "<state_dict>") -> Recognizer:
    hits = [r for r in recognizers() if r.match(sd)]
    if not hits:
        kinds = ", ".join(r.kind for r in recognizers()) or "none registered"
        raise WeightsFormatError(
            path, f"not a known DeOldify/BOPBTL/oldfilm checkpoint ({len(sd)} keys; known kinds: {kinds})"
        )
    if len(hits) > 1:
        raise WeightsFormatError(path, f"ambiguous checkpoint: matches {', '.join(r.kind for r in hits)}")
    return hits[0]


def load_published(path: str | Path) -> nn.Module:
    """The network (eval, CPU, float32) for any published DeOldify or BOPBTL checkpoint file.

    Same code path as ``oldfilm weights import``: read weights-only, unwrap, recognise by keys,
    build, strict load.
    """
    path = Path(path)
    sd = read_state_dict(path)
    return recognize(sd, path).build(sd)


# --------------------------------------------------------------------------- builtin checkpoints


def save_builtin(module: nn.Module, arch: str, config: dict, path: str | Path, extra: dict | None = None) -> str:
    """Write ``module`` as fp16 safetensors with its architecture in the metadata; returns sha256.

    Atomic: written under a temporary name beside ``path`` and renamed into place.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {
        k: (v.detach().half() if v.is_floating_point() else v.detach()).contiguous().cpu()
        for k, v in module.state_dict().items()
    }
    meta = {"oldfilm.arch": arch, "oldfilm.config": json.dumps(config, sort_keys=True)}
    meta.update({f"oldfilm.{k}": str(v) for k, v in (extra or {}).items()})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    save_file(sd, tmp, metadata=meta)
    os.replace(tmp, path)
    return sha256_file(path)


def read_builtin_meta(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def builtin_shas() -> dict[str, str]:
    """file name -> pinned sha256, from checkpoints/SHA256SUMS (``sha256sum`` format)."""
    p = checkpoints_dir() / "SHA256SUMS"
    if not p.is_file():
        return {}
    out = {}
    for line in p.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.lstrip("*")] = digest
    return out


def record_builtin_sha(path: str | Path) -> str:
    """Pin the sha256 of an exported checkpoint in checkpoints/SHA256SUMS (atomic rewrite)."""
    path = Path(path)
    shas = builtin_shas()
    shas[path.name] = sha256_file(path)
    d = checkpoints_dir()
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".SHA256SUMS.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{digest}  {name}\n" for name, digest in sorted(shas.items()))
    os.replace(tmp, d / "SHA256SUMS")
    return shas[path.name]


def load_builtin(path: str | Path) -> nn.Module:
    """Build and strictly load one of our safetensors checkpoints (float32, eval, CPU)."""
    _ensure_families()
    path = Path(path)
    meta = read_builtin_meta(path)
    arch_name = meta.get("oldfilm.arch")
    if arch_name not in _ARCHITECTURES:
        raise WeightsFormatError(path, f"unknown architecture {arch_name!r} in checkpoint metadata")
    config = json.loads(meta.get("oldfilm.config", "{}"))
    module = _ARCHITECTURES[arch_name].build(config)
    module = strict_load(module, read_state_dict(path), path)
    module.oldfilm_meta = meta      # operating points saved with the weights (e.g. a detector's threshold)
    return module


def load_file(path: str | Path) -> nn.Module:
    """Load any checkpoint file: ours (.safetensors with metadata) or a published .pth."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_builtin(path)
    return load_published(path)


# --------------------------------------------------------------------------- import / list / verify


@dataclass
class Imported:
    slot: str
    kind: str
    sha256: str
    stored: Path


def import_file(path: str | Path, slot: str | None = None) -> Imported:
    """Recognise, check (strict build) and store a published checkpoint. Never runs code from it."""
    path = Path(path)
    sd = read_state_dict(path)
    rec = recognize(sd, path)
    rec.build(sd)  # every shape checked by a strict load
    if slot is None and rec.slot_from_path is not None:
        slot = rec.slot_from_path(path)
    if slot is None:
        if len(rec.slots) == 1:
            slot = rec.slots[0]
        else:
            raise WeightsFormatError(
                path, f"a {rec.kind} file fits several slots ({', '.join(rec.slots)}); say which with --as SLOT"
            )
    if slot not in rec.slots:
        raise WeightsFormatError(path, f"a {rec.kind} file cannot fill slot {slot} (fits: {', '.join(rec.slots)})")
    digest = sha256_file(path)
    d = store_dir()
    d.mkdir(parents=True, exist_ok=True)
    dest = d / f"{slot}-{digest[:12]}{path.suffix or '.pth'}"
    if not dest.exists():
        fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{dest.name}.", suffix=".tmp")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)
    index = _read_index()
    index[slot] = {
        "file": dest.name,
        "sha256": digest,
        "kind": rec.kind,
        "source": str(path.resolve()),
        "imported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    _write_index(index)
    return Imported(slot=slot, kind=rec.kind, sha256=digest, stored=dest)


def slot_path(entry: ModelEntry, slot: str) -> Path | None:
    """Where the file for ``slot`` of ``entry`` is, or None when it is not installed."""
    if entry.builtin:
        p = checkpoints_dir() / entry.builtin_files[slot]
        return p if p.is_file() else None
    rec = _read_index().get(slot)
    if rec is None:
        return None
    p = store_dir() / rec["file"]
    return p if p.is_file() else None


def installed(entry: ModelEntry) -> bool:
    return all(slot_path(entry, s) is not None for s in entry.slots)


TRAIN_COMMANDS = {"colorize": "colorizer", "restore": "restorer", "scratch": "scratch", "face": "faces"}
SKIP_HINTS = {"restore": "; or skip the global restorer with --no-restore (faces and colorize still run)"}


def _missing_line(entry: ModelEntry) -> str:
    if entry.builtin:
        return (
            f"no weights installed for the {entry.task} model '{entry.name}' "
            f"(expected {', '.join(str(checkpoints_dir() / f) for f in entry.builtin_files.values())}); "
            f"train it with `oldfilm train {TRAIN_COMMANDS.get(entry.task, '...')}` or import a published one with "
            f"`oldfilm weights import FILE`{SKIP_HINTS.get(entry.task, '')}"
        )
    missing = [s for s in entry.slots if slot_path(entry, s) is None]
    return (
        f"no weights installed for the {entry.task} model '{entry.name}' (missing: {', '.join(missing)}); "
        f"import the published file(s) with `oldfilm weights import FILE`"
    )


def is_checkpoint_path(name_or_path: str) -> bool:
    """Whether a ``--model``-style argument names a checkpoint file rather than a registry entry."""
    p = Path(name_or_path)
    return p.suffix in (".pth", ".pt", ".safetensors") or p.is_file()


def load_model(task: str, name_or_path: str) -> dict[str, nn.Module]:
    """slot -> network (eval, float32, CPU) for a named model, or for a checkpoint path.

    Raises NoWeightsError with one line saying how to import or train when files are missing.
    Never returns random weights.
    """
    p = Path(name_or_path)
    if is_checkpoint_path(name_or_path):
        if not p.is_file():
            raise NoWeightsError(f"{p}: no such checkpoint file")
        if p.suffix == ".safetensors":
            return {task: load_builtin(p)}
        sd = read_state_dict(p)
        rec = recognize(sd, p)
        return {rec.slot_from_path(p) if rec.slot_from_path and rec.slot_from_path(p) else rec.slots[0]: rec.build(sd)}
    entry = get_model(task, name_or_path)
    if not installed(entry):
        raise NoWeightsError(_missing_line(entry))
    out: dict[str, nn.Module] = {}
    for slot in entry.slots:
        path = slot_path(entry, slot)
        assert path is not None
        out[slot] = load_builtin(path) if entry.builtin else load_published(path)
    return out


@dataclass
class Verified:
    task: str
    name: str
    slot: str
    path: Path | None
    ok: bool
    detail: str


def verify() -> list[Verified]:
    """Recompute the sha256 of every installed file against the registry (builtin) or the index."""
    index = _read_index()
    rows: list[Verified] = []
    for entry in models():
        for slot in entry.slots:
            path = slot_path(entry, slot)
            if path is None:
                rows.append(Verified(entry.task, entry.name, slot, None, False, "not installed"))
                continue
            digest = sha256_file(path)
            expected = (
                builtin_shas().get(entry.builtin_files[slot]) if entry.builtin else index.get(slot, {}).get("sha256")
            )
            ok = expected is not None and digest == expected
            detail = "ok" if ok else f"sha256 {digest[:16]}… != expected {str(expected)[:16]}…"
            rows.append(Verified(entry.task, entry.name, slot, path, ok, detail))
    return rows
