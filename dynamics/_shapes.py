"""Shape broadcasting without `torch.broadcast_shapes`.

In torch 2.13 the first call of `torch.broadcast_shapes` imports the symbolic-shapes
machinery (and SymPy), about 0.3 s: a first solve call would pay it. This is the same
rule in plain Python.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["broadcast_shapes"]


def broadcast_shapes(*shapes: Iterable[int]) -> torch.Size:
    """Return the broadcast of `shapes` (NumPy rules); raise `RuntimeError` if they clash.

    Examples:
        >>> broadcast_shapes((3, 1), (4,), ())
        torch.Size([3, 4])
    """
    out: list[int] = []
    for shape in shapes:
        shape = tuple(shape)
        if len(shape) > len(out):
            out = [1] * (len(shape) - len(out)) + out
        for i, s in enumerate(shape, start=len(out) - len(shape)):
            if s != out[i] and s != 1:
                if out[i] != 1:
                    raise RuntimeError(f"Shapes {[tuple(x) for x in shapes]} do not broadcast.")
                out[i] = s
    return torch.Size(out)
