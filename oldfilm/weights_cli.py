"""`oldfilm weights list|import|verify`: see, add and check the installed model weights.

* ``list``: every registry entry with installed/missing, its sha256 and model card.
* ``import FILE [--as SLOT]``: recognise a published DeOldify/BOPBTL checkpoint by its keys,
  check every shape, store it under $OLDFILM_HOME/weights. Never executes code from the file.
* ``verify``: recompute the sha256 of every installed file; exit status 1 on any mismatch.

User errors raise OldfilmError; ``oldfilm.cli.main`` prints them as one line.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import weights as W


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="weights_action", metavar="ACTION", required=True)
    sub.add_parser("list", help="every model with installed/missing, sha256 and model card")
    p = sub.add_parser("import", help="import a published checkpoint (DeOldify .pth, BOPBTL .pth)")
    p.add_argument("file", metavar="FILE", type=Path)
    p.add_argument("--as", dest="slot", metavar="SLOT", help="the slot to fill when the keys cannot tell")
    sub.add_parser("verify", help="recompute the sha256 of every installed file")


def _sha_of(entry: W.ModelEntry, slot: str) -> str:
    if entry.builtin:
        return W.builtin_shas().get(entry.builtin_files[slot], "unpinned")
    return W._read_index().get(slot, {}).get("sha256", "?")


def list_lines() -> list[str]:
    """One line per (model, slot): task, name, slot, state, sha256 prefix, card, description."""
    rows = []
    for entry in W.models():
        for slot in entry.slots:
            path = W.slot_path(entry, slot)
            state = "installed" if path is not None else "missing"
            sha = _sha_of(entry, slot)[:16] if path is not None else "-"
            rows.append((entry.task, entry.name, slot, state, sha, entry.card or "-", entry.description))
    if not rows:
        return ["no models registered"]
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    header = ("TASK", "NAME", "SLOT", "STATE", "SHA256", "CARD")
    widths = [max(w, len(h)) for w, h in zip(widths, header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    return [fmt.format(*header, "DESCRIPTION")] + [fmt.format(*r) for r in rows]


def run(args: argparse.Namespace) -> int:
    action = args.weights_action
    if action == "list":
        print("\n".join(list_lines()))
        print(f"store: {W.store_dir()}   builtin: {W.checkpoints_dir()}")
        return 0
    if action == "import":
        done = W.import_file(args.file, slot=args.slot)
        print(f"imported {args.file} as {done.slot} ({done.kind}, sha256 {done.sha256[:16]}…) -> {done.stored}")
        return 0
    if action == "verify":
        rows = [r for r in W.verify() if r.path is not None]
        for row in rows:
            print(f"{'ok' if row.ok else 'FAILED':<7}{row.task}/{row.name} [{row.slot}] {row.path}: {row.detail}")
        if not rows:
            print("no weights installed; see `oldfilm weights list`")
        bad = sum(not r.ok for r in rows)
        if bad:
            print(f"{bad} of {len(rows)} installed file(s) do not match their recorded sha256; "
                  f"re-import or re-export them", file=sys.stderr)
            return 1
        return 0
    raise AssertionError(action)  # argparse restricts the choices
