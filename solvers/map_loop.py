"""The step-map loop: fixed grid between save times and discontinuities."""

from __future__ import annotations

import itertools
import math

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


def map_loop(method, term, y0, tsave, t0, discontinuities, save, progress):
    """Integrate `y_{k+1} = M(t_k, dt) y_k` and save at `tsave` (see `AbstractStepMap`)."""
    ts = tsave.detach().cpu().tolist()
    intervals = grid(t0, ts, discontinuities, method.dt)
    nsteps = sum(n for _, _, n in intervals)
    if nsteps > method.max_steps:
        raise SolverError(
            t0, f"the grid needs {nsteps} steps, more than `max_steps` = {method.max_steps}"
        )
    saved = [save(y0)] if ts[0] == t0 else []
    save_set = set(ts)
    cache: dict[float, object] = {}
    nprep = 0
    y = y0
    bar = tqdm(total=ts[-1] - t0, disable=not progress, unit="t", leave=False)
    for a, b, n in intervals:
        h = (b - a) / n
        prepared = None
        if term.is_constant:
            key = round(h, 13)
            if key not in cache:
                cache[key] = method.prepare(term, a, h)
                nprep += 1
            prepared = cache[key]
        elif term.is_piecewise_constant:
            prepared = method.prepare(term, a, h)
            nprep += 1
        for k in range(n):
            if prepared is None:
                nprep += 1
            y = method.apply(
                prepared if prepared is not None else method.prepare(term, a + k * h, h), y
            )
        bar.update(b - a)
        if b in save_set:
            if not bool(torch.isfinite(y).all()):
                raise SolverError(b, "the state is not finite")
            saved.append(save(y))
    bar.close()
    return saved, y, {"steps": nsteps, "rejected": 0, "nfev": nprep}
