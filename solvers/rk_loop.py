"""The explicit Runge–Kutta loop: fixed and adaptive stepping, dense output at `tsave`.

One loop serves every tableau. Steps end exactly on the caller's discontinuities
(stage times there are taken just before the jump, so a right-continuous
piecewise-constant term is seen from the left); the first-same-as-last stage is
reused except across a discontinuity. A batch shares one step size: the error is the
largest RMS error over the batch. The only host–device synchronisation per step is
the accept/reject decision.
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from .controllers import PIController, initial_step, rms
from .errors import SolverError
from .stages import make_stages

__all__ = ["rk_loop"]


class _Stepper:
    """One Runge–Kutta step of a tableau on a term, with its stages in a store."""

    def __init__(self, tableau, term):
        self.tab = tableau
        self.term = term
        self.nfev = 0
        self.stages = None
        self.abs_y1 = None  # (y1, |y1|) of the last step, reused as |y| of the next one

    def f(self, t: float, y: torch.Tensor) -> torch.Tensor:
        self.nfev += 1
        return self.term.vf(t, y)

    def step(self, t: float, h: float, t_lim: float, y: torch.Tensor, k0: torch.Tensor):
        """Fill the stages of a step from `(t, y)` of size `h` and return the new state."""
        tab = self.tab
        if self.stages is None:
            self.stages = make_stages(tab, k0, y)
        st = self.stages
        st.set(0, k0)
        y1 = None
        for i in range(1, tab.stages):
            yi = st.combine(y, tab.a[i], h)
            st.set(i, self.f(min(t + tab.c[i] * h, t_lim), yi))
            if tab.fsal and i == tab.stages - 1:
                y1 = yi
        return st.combine(y, tab.b, h) if y1 is None else y1

    def last(self) -> torch.Tensor:
        """The last stage of the step (the next first stage for FSAL tableaux)."""
        return self.stages.get(self.tab.stages - 1)

    @torch.no_grad()
    def error(self, h: float, y: torch.Tensor, y1: torch.Tensor, method, event_ndim: int) -> float:
        """Return the largest error norm over the batch (1 is the tolerance)."""
        tab, st = self.tab, self.stages
        abs_y = self.abs_y1 if self.abs_y1 is not None and self.abs_y1[0] is y else (y, y.abs())
        self.abs_y1 = (y1, y1.abs())
        scale = torch.maximum(abs_y[1], self.abs_y1[1]).mul_(method.rtol).add_(method.atol)
        e = rms(st.combine(None, tab.b_err, 1.0) / scale, event_ndim)
        if tab.b_err_low is None:
            err = abs(h) * e
        else:  # DOP853's combination of its order-5 and order-3 estimates
            e3 = rms(st.combine(None, tab.b_err_low, 1.0) / scale, event_ndim)
            denom = torch.sqrt(e**2 + 0.01 * e3**2)
            err = abs(h) * e**2 / torch.where(denom > 0, denom, torch.ones_like(denom))
        return float(err.max())

    def dense(self, t: float, h: float, y: torch.Tensor, tq: torch.Tensor, t_lim: float):
        """Return the dense output at times `tq` (shape `(m,)`) inside the step: `(m, *y.shape)`."""
        tab, st = self.tab, self.stages
        for r, (row, c) in enumerate(zip(tab.a_extra, tab.c_extra)):
            st.set(tab.stages + r, self.f(min(t + c * h, t_lim), st.combine(y, row, h)))
        P = tab.tensor("dense", tq.dtype, tq.device)  # (S, p)
        theta = ((tq - t) / h).unsqueeze(-1)  # (m, 1)
        powers = theta ** torch.arange(1, P.shape[1] + 1, device=tq.device, dtype=tq.dtype)
        return st.dense(y, (powers @ P.mT) * h)  # weights (m, S)


def rk_loop(method, term, y0, tsave, t0, discontinuities, save, event_ndim, progress):
    """Integrate `term` with the Runge–Kutta `method` and save at `tsave` (see module doc)."""
    stepper = _Stepper(method.tableau, term)
    ts = tsave.detach().cpu().tolist()
    rdtype = y0.real.dtype if y0.is_complex() else y0.dtype
    tq_all = tsave.to(dtype=rdtype, device=y0.device)
    tend = ts[-1]
    stops = [*sorted({d for d in discontinuities if t0 < d < tend}), tend]
    saved = []
    i_save = 0
    if ts[0] == t0:
        saved.append(save(y0))
        i_save = 1
    t, y = t0, y0
    k0 = stepper.f(t, y) if i_save < len(ts) else None
    controller = PIController(method) if method.adaptive else None
    h = (
        method.dt
        if controller is None
        else initial_step(stepper, method, t, y, k0, stops[0], event_ndim)
    )
    steps = rejected = 0
    bar = tqdm(total=tend - t0, disable=not progress, unit="t", leave=False)
    while i_save < len(ts):
        t_stop = stops[0]
        hits = t + h >= t_stop - 1e-12 * max(1.0, abs(t_stop))
        t1 = t_stop if hits else t + h
        hh = t1 - t
        t_lim = math.nextafter(t_stop, -math.inf) if len(stops) > 1 else t_stop
        steps += 1
        if steps > method.max_steps:
            raise SolverError(
                t, f"reached `max_steps` = {method.max_steps} of {type(method).__name__}"
            )
        y1 = stepper.step(t, hh, t_lim, y, k0)
        if controller is not None:
            err = stepper.error(hh, y, y1, method, event_ndim)
            accepted, h = controller.update(err, hh)
            if h < 16 * math.ulp(max(1.0, abs(t))):
                raise SolverError(t, f"the step size underflowed (h = {h:.3g}, error {err:.3g})")
            if not accepted:
                rejected += 1
                continue
        j = i_save
        while j < len(ts) and ts[j] <= t1:
            j += 1
        if j > i_save:
            if controller is None and not bool(torch.isfinite(y1).all()):
                raise SolverError(t1, "the state is not finite")
            if tsave.requires_grad or ts[j - 1] != t1:
                ys = stepper.dense(t, hh, y, tq_all[i_save:j], t_lim)
                saved.extend(save(ys[i]) for i in range(j - i_save))
            else:
                if j - 1 > i_save:
                    ys = stepper.dense(t, hh, y, tq_all[i_save : j - 1], t_lim)
                    saved.extend(save(ys[i]) for i in range(j - 1 - i_save))
                saved.append(save(y1))
            i_save = j
        bar.update(hh)
        reuse = method.tableau.fsal and not (hits and len(stops) > 1)
        t, y = t1, y1
        if hits:
            stops.pop(0)
        if i_save < len(ts):
            k0 = stepper.last() if reuse else stepper.f(t, y)
        if controller is None:
            h = method.dt
    bar.close()
    if controller is None and not bool(torch.isfinite(y).all()):
        raise SolverError(t, "the state is not finite")
    return saved, y, {"steps": steps - rejected, "rejected": rejected, "nfev": stepper.nfev}
