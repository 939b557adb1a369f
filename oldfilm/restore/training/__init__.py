"""Shared training helpers for the restoration family: data, run folders, losses, evaluation, export.

Training-only: nothing here is imported on the inference path.
"""
