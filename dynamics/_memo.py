"""Memos of facts about a tensor's values, valid while the tensor is not modified.

Checking a large operator (finite values, which diagonals are nonzero) reads every
entry: 0.2 s for a 4096 × 4096 spin-chain Hamiltonian, more than the integration.
Users call solve functions again and again with the same operators (sweeps, fits,
benchmarks), so these facts are memoised per tensor object. A memo is keyed by the
tensor's identity and checked against its storage, shape, strides and version
counter (which every in-place operation increments), so a modified or different
tensor is never taken for the one that was checked; it dies with the tensor.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TypeVar

import torch

__all__ = ["memo_by_tensor"]

T = TypeVar("T")

MIN_NUMEL = 1 << 14  # below this the fact costs less than the memo's bookkeeping


def _stamp(x: torch.Tensor) -> tuple | None:
    """Geometry and version of `x`, or None for tensors without a version counter."""
    try:
        version = x._version  # shared by a tensor and its views
        geometry = (x.data_ptr(), x.storage_offset(), x.shape, x.stride(), x.dtype, x.device)
    except (RuntimeError, NotImplementedError):  # inference, functorch or fake tensors
        return None
    return geometry, version


def memo_by_tensor(fn: Callable[..., T]) -> Callable[..., T]:
    """Memoise `fn(x, *args)` per tensor `x` (and hashable `args`), see the module docstring.

    Views share the memo of the tensor they view (`x._base`, kept alive by the view and
    whose storage they read), so `H.unsqueeze(0)` made afresh in every call still hits.
    """
    memos: dict[int, list] = {}  # id(base) -> [weakref(base), version, {(geometry, args): T}]

    def forget(key: int, ref: weakref.ref) -> None:
        entry = memos.get(key)
        if entry is not None and entry[0] is ref:
            del memos[key]

    @functools.wraps(fn)
    def wrapper(x: torch.Tensor, *args):
        if x.numel() < MIN_NUMEL or x.device.type == "meta":
            return fn(x, *args)
        stamp = _stamp(x)
        if stamp is None:
            return fn(x, *args)
        geometry, version = stamp
        base = x if x._base is None else x._base
        entry = memos.get(id(base))
        if entry is None or entry[0]() is not base:
            ref = weakref.ref(base, functools.partial(forget, id(base)))
            entry = memos[id(base)] = [ref, version, {}]
        if entry[1] != version:  # modified in place since: every fact is stale
            entry[1], entry[2] = version, {}
        results = entry[2]
        key = (geometry, args)
        if key not in results:
            results[key] = fn(x, *args)
        return results[key]

    wrapper.memos = memos  # for tests
    return wrapper
