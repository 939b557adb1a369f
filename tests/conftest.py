"""Shared test fixtures: the read-only ../shared folder and the parity recipe.

Tests that need ../shared skip with a reason when it is absent (the project must work without it).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("OLDFILM_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "reference"
DATA = Path(__file__).resolve().parent / "data"

# A shared 2-core box stalls badly with oversubscribed OpenMP; tests are tiny anyway.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Never touch the user's real weights store from a test."""
    monkeypatch.setenv("OLDFILM_HOME", str(tmp_path_factory.mktemp("oldfilm_home")))


def need_reference() -> Path:
    if not (REFERENCE / "recipe.py").is_file():
        pytest.skip(f"parity reference not found at {REFERENCE} (set OLDFILM_SHARED)")
    return REFERENCE


def load_golden(name: str) -> dict:
    """The golden dict (tensors + meta) of ../shared/reference/golden/<name>.pt."""
    ref = need_reference()
    return torch.load(ref / "golden" / f"{name}.pt", weights_only=True)


def recipe_state_dict(manifest: str, meta: dict, gains: dict | None = None) -> dict[str, torch.Tensor]:
    """The seeded state_dict the golden's original implementation held (reference/README.md)."""
    ref = need_reference()
    if str(ref) not in sys.path:
        sys.path.insert(0, str(ref))
    import recipe  # type: ignore[import-not-found]

    assert meta["recipe_version"] == recipe.RECIPE_VERSION
    return recipe.make_state_dict(
        recipe.load_manifest(manifest), salt=meta["salt"], gains=meta["gains"] if gains is None else gains
    )
