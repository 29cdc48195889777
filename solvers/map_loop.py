"""The step-map loop: fixed grid between save times and discontinuities."""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from .errors import SolverError

__all__ = ["grid", "linear_map_loop", "map_loop"]


def grid(
    t0: float, ts: list[float], discontinuities, dt: float | None
) -> list[tuple[float, float, int]]:
    """Return the intervals `(a, b, n)` between knots, each cut into `n` equal steps ≤ `dt`."""
    tend = ts[-1]
    knots = sorted({t0, *ts, *(d for d in discontinuities if t0 < d < tend)})
    out = []
    for a, b in itertools.pairwise(knots):
        n = 1 if dt is None else max(1, math.ceil((b - a) / dt * (1 - 1e-12)))
        out.append((a, b, n))
    return out


class MapRecord(NamedTuple):
    """One step of the grid.

    The step goes from `t` with size `h`, inside the interval of index `interval`
    between knots of the grid, and is followed by the save of index `save` (or none).
    """

    t: float
    h: float
    interval: int
    save: int | None

    @property
    def save_indices(self) -> tuple[int, ...]:
        """Indices of the save times reached by the step."""
        return () if self.save is None else (self.save,)


def _step(method, term, rec: MapRecord, y, cache: dict):
    """Advance `y` by one step; `cache` holds what `prepare` built, reused where the term allows.

    Returns the new state and the number of `prepare` calls (0 or 1).
    """
    if term.is_constant:
        key = round(rec.h, 13)
    elif term.is_piecewise_constant:
        key = (rec.interval, round(rec.h, 13))
    else:
        key = None
    try:
        fresh = key is None or key not in cache
        if fresh:
            prepared = method.prepare(term, rec.t, rec.h)
            if key is not None:
                if not term.is_constant:  # keep only the current interval's
                    cache.clear()
                cache[key] = prepared
        else:
            prepared = cache[key]
        return method.apply(prepared, y), int(fresh)
    except torch.linalg.LinAlgError as err:
        raise SolverError(rec.t, f"the step map failed ({err})") from err


def _records(t0: float, ts: list[float], discontinuities, dt: float | None):
    """Every step of the grid as a `MapRecord`."""
    index = {t: i for i, t in enumerate(ts)}
    for m, (a, b, n) in enumerate(grid(t0, ts, discontinuities, dt)):
        h = (b - a) / n
        for k in range(n):
            yield MapRecord(a + k * h, h, m, index.get(b) if k == n - 1 else None)


def map_loop(method, term, y0, tsave, t0, discontinuities, save, progress, recorder=None):
    """Integrate `y_{k+1} = M(t_k, dt) y_k` and save at `tsave` (see `AbstractStepMap`).

    `recorder(record, y)`, if given, is called with every step and the state at its
    start, so that a gradient mode can keep checkpoints and replay steps.
    """
    ts = tsave.detach().cpu().tolist()
    nsteps = sum(n for _, _, n in grid(t0, ts, discontinuities, method.dt))
    if nsteps > method.max_steps:
        raise SolverError(
            t0, f"the grid needs {nsteps} steps, more than `max_steps` = {method.max_steps}"
        )
    saved = [save(y0)] if ts[0] == t0 else []
    cache: dict = {}
    nprep = 0
    y = y0
    bar = tqdm(total=ts[-1] - t0, disable=not progress, unit="t", leave=False)
    for rec in _records(t0, ts, discontinuities, method.dt):
        if recorder is not None:
            recorder(rec, y)
        y, k = _step(method, term, rec, y, cache)
        nprep += k
        bar.update(rec.h)
        if rec.save is not None:
            if not bool(torch.isfinite(y).all()):
                raise SolverError(rec.t + rec.h, "the state is not finite")
            saved.append(save(y))
    bar.close()
    return saved, y, {"steps": nsteps, "rejected": 0, "nfev": nprep}


MAX_BATCHED_ENTRIES = 2**25  # 512 MB of complex128 maps at most in the batched path


def linear_map_loop(method, term, y0, tsave, t0, discontinuities, save, progress):
    """The step-map loop for constant or piecewise-constant linear maps, all steps at once.

    Each interval between knots of the grid is one step (the map is exact there); the
    maps of all intervals come from one call of `method.prepare_many`, and the map of
    each stretch between two save times is a product of matrices taken as a tree
    (logarithmic depth) when that is no more work than applying them one by one.
    No recorder: gradient modes that replay steps use `map_loop`, and so does a
    problem whose stack of maps would exceed `MAX_BATCHED_ENTRIES` entries.
    """
    ts = tsave.detach().cpu().tolist()
    intervals = grid(t0, ts, discontinuities, None)
    if len(intervals) * y0[..., :1].numel() * y0.shape[-2] > MAX_BATCHED_ENTRIES:
        return map_loop(method, term, y0, tsave, t0, discontinuities, save, progress)
    if len(intervals) > method.max_steps:
        raise SolverError(
            t0, f"the grid needs {len(intervals)} steps, more than `max_steps` = {method.max_steps}"
        )
    if not intervals:
        return [save(y0)], y0, {"steps": 0, "rejected": 0, "nfev": 0}
    keys = [round(b - a, 13) if term.is_constant else m for m, (a, b, _) in enumerate(intervals)]
    unique = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    first = {}
    for (a, b, _), k in zip(intervals, keys):
        first.setdefault(k, (a, b))
    spans = list(first.values())
    try:
        maps = method.prepare_many(term, [(a + b) / 2 for a, b in spans], [b - a for a, b in spans])
    except torch.linalg.LinAlgError as err:
        raise SolverError(t0, f"the step map failed ({err})") from err
    saves = {t: i for i, t in enumerate(ts)}
    saved = [save(y0)] if ts[0] == t0 else []
    y, start = y0, 0
    for m, (_, b, _) in enumerate(intervals):
        if b in saves:
            y = _advance(maps, [unique[k] for k in keys[start : m + 1]], y)
            if not bool(torch.isfinite(y).all()):
                raise SolverError(b, "the state is not finite")
            saved.append(save(y))
            start = m + 1
    return saved, y, {"steps": len(intervals), "rejected": 0, "nfev": len(spans)}


def _advance(maps: torch.Tensor, index: list[int], y: torch.Tensor) -> torch.Tensor:
    """Apply `maps[index[0]]`, then `maps[index[1]]`, ... to `y`."""
    if len(index) == 1:
        return maps[index[0]] @ y
    d = maps.shape[-1]
    if d > 32 and 4 * y.shape[-1] < d:  # products of maps cost more than applying them
        for i in index:
            y = maps[i] @ y
        return y
    if index == list(range(index[0], index[-1] + 1)):
        stack = maps[index[0] : index[-1] + 1]
    else:
        stack = maps[torch.tensor(index, device=maps.device)]
    while stack.shape[0] > 1:  # pair neighbours, later maps on the left
        k = stack.shape[0]
        pairs = stack[1 : k - k % 2 : 2] @ stack[0 : k - k % 2 : 2]
        stack = torch.cat([pairs, stack[k - 1 :]]) if k % 2 else pairs
    return stack[0] @ y


def map_replay(method, term, records, y, tsave, save):
    """Replay recorded steps from `y`; return the save outputs inside them and the end state."""
    saved = []
    cache: dict = {}
    for rec in records:
        y, _ = _step(method, term, rec, y, cache)
        if rec.save is not None:
            saved.append(save(y))
    return saved, y
