"""Checked number types for argparse options: a bad value is one usage line, not a traceback."""
from __future__ import annotations

import argparse
from collections.abc import Callable


def _checked(name: str, cast: Callable[[str], float], ok: Callable[[float], bool],
             expected: str) -> Callable[[str], float]:
    def parse(text: str):
        value = cast(text)
        if not ok(value):        # `not` so that NaN is refused too
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value
    parse.__name__ = name        # argparse names it in "invalid NAME value: 'x'"
    return parse


positive_int = _checked("positive_int", int, lambda v: v >= 1, "1 or more")
count = _checked("count", int, lambda v: v >= 0, "0 or more")
positive_float = _checked("positive_float", float, lambda v: v > 0, "a positive number")
minutes = _checked("minutes", float, lambda v: v >= 0, "minutes >= 0")


def trial_span(text: str):
    """--trial START[+SECONDS] -> video.excerpt.Span."""
    from .video.excerpt import parse_span

    try:
        return parse_span(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
