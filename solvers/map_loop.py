"""The step-map loop: fixed grid between save times and discontinuities."""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from .errors import SolverError

__all__ = ["grid", "map_loop"]


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
    """One interval of the grid: `n` steps of size `(b - a) / n`, then the save of index `save`."""

    a: float
    b: float
    n: int
    save: int | None

    @property
    def save_indices(self) -> tuple[int, ...]:
        """Indices of the save times inside the interval."""
        return () if self.save is None else (self.save,)


def _interval(method, term, rec: MapRecord, y, cache: dict | None):
    """Advance `y` over one interval; return the new state and the number of `prepare` calls."""
    try:
        return _advance(method, term, rec, y, cache)
    except torch.linalg.LinAlgError as err:
        raise SolverError(rec.a, f"the step map failed ({err})") from err


def _advance(method, term, rec: MapRecord, y, cache: dict | None):
    h = (rec.b - rec.a) / rec.n
    if term.is_constant and cache is not None:
        key = round(h, 13)
        fresh = key not in cache
        if fresh:
            cache[key] = method.prepare(term, rec.a, h)
        prepared, nprep = cache[key], int(fresh)
    elif term.is_piecewise_constant:
        prepared, nprep = method.prepare(term, rec.a, h), 1
    else:
        for k in range(rec.n):
            y = method.apply(method.prepare(term, rec.a + k * h, h), y)
        return y, rec.n
    for _ in range(rec.n):
        y = method.apply(prepared, y)
    return y, nprep


def map_loop(method, term, y0, tsave, t0, discontinuities, save, progress, recorder=None):
    """Integrate `y_{k+1} = M(t_k, dt) y_k` and save at `tsave` (see `AbstractStepMap`).

    `recorder(record, y)`, if given, is called with every interval and the state at its
    start, so that a gradient mode can keep checkpoints and replay intervals.
    """
    ts = tsave.detach().cpu().tolist()
    index = {t: i for i, t in enumerate(ts)}
    intervals = grid(t0, ts, discontinuities, method.dt)
    nsteps = sum(n for _, _, n in intervals)
    if nsteps > method.max_steps:
        raise SolverError(
            t0, f"the grid needs {nsteps} steps, more than `max_steps` = {method.max_steps}"
        )
    saved = [save(y0)] if ts[0] == t0 else []
    cache: dict = {}
    nprep = 0
    y = y0
    bar = tqdm(total=ts[-1] - t0, disable=not progress, unit="t", leave=False)
    for a, b, n in intervals:
        rec = MapRecord(a, b, n, index.get(b))
        if recorder is not None:
            recorder(rec, y)
        y, k = _interval(method, term, rec, y, cache)
        nprep += k
        bar.update(b - a)
        if rec.save is not None:
            if not bool(torch.isfinite(y).all()):
                raise SolverError(b, "the state is not finite")
            saved.append(save(y))
    bar.close()
    return saved, y, {"steps": nsteps, "rejected": 0, "nfev": nprep}


def map_replay(method, term, records, y, tsave, save):
    """Replay recorded intervals from `y`; return the save outputs inside them and the end state."""
    saved = []
    cache: dict = {}
    for rec in records:
        y, _ = _interval(method, term, rec, y, cache)
        if rec.save is not None:
            saved.append(save(y))
    return saved, y
