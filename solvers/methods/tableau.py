"""Butcher tableaux: frozen data that checks itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["ButcherTableau"]

_TOL = 1e-10


def _close(x: float, y: float) -> bool:
    return abs(x - y) <= _TOL * max(1.0, abs(x), abs(y))


@dataclass(frozen=True)
class ButcherTableau:
    """The coefficients of an explicit Runge–Kutta method.

    Stage `i` is `k_i = f(t + c_i h, y + h Σ_{j<i} a_ij k_j)`; the solution is
    `y + h Σ_i b_i k_i`; the local error estimate is `h Σ_i b_err_i k_i`.

    Args:
        a: Lower-triangular rows; row `i` holds the `i` coefficients of stage `i`
            (`a[0] == ()`).
        b: Weights of the solution, one per stage.
        c: Nodes, one per stage, `c[0] == 0`.
        order: Order of the solution.
        b_err: Weights of the error estimate (`b - b_embedded`), or `None` for methods
            without one (fixed step only).
        error_order: Order of the embedded solution (sets the controller exponent).
        b_err_low: Optional second, lower-order error estimate combined as in
            Hairer's DOP853 (the error then behaves as one of order `order`).
        fsal: The last stage is `f(t + h, y_new)` and serves as the next first stage.
        dense: Dense output: `dense[s][j]` is the coefficient of `θ^(j+1)` in the weight
            of stage `s`, so that `y(t + θh) = y + h Σ_s k_s Σ_j dense[s][j] θ^(j+1)`.
            Stages beyond `len(b)` are the extra stages below.
        a_extra: Rows of extra stages computed only for dense output.
        c_extra: Nodes of the extra stages.

    Raises:
        ValueError: If the coefficients are inconsistent (row sums differ from `c`,
            `Σ b != 1`, `Σ b_err != 0`, or a dense output that does not reach `b`).

    Examples:
        >>> from solvers import ButcherTableau
        >>> midpoint = ButcherTableau(a=((), (0.5,)), b=(0.0, 1.0), c=(0.0, 0.5), order=2)
        >>> midpoint.stages
        2
    """

    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int
    b_err: tuple[float, ...] | None = None
    error_order: int | None = None
    b_err_low: tuple[float, ...] | None = None
    fsal: bool = False
    dense: tuple[tuple[float, ...], ...] | None = None
    a_extra: tuple[tuple[float, ...], ...] = ()
    c_extra: tuple[float, ...] = ()
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        s = len(self.b)
        if len(self.c) != s or len(self.a) != s:
            raise ValueError(
                f"Tableau has {s} weights but {len(self.c)} nodes and {len(self.a)} rows."
            )
        if self.c[0] != 0 or any(len(row) != i for i, row in enumerate(self.a)):
            raise ValueError("Tableau must be explicit: `c[0] == 0` and row i has i entries.")
        for i, row in enumerate(self.a[1:] + self.a_extra, start=1):
            ci = (self.c + self.c_extra)[i]
            if not _close(sum(row), ci):
                raise ValueError(f"Tableau row {i} sums to {sum(row)}, but c[{i}] = {ci}.")
        if not _close(sum(self.b), 1.0):
            raise ValueError(f"Tableau weights `b` sum to {sum(self.b)}, not 1.")
        for name in ("b_err", "b_err_low"):
            e = getattr(self, name)
            if e is not None and (len(e) != s or not _close(sum(e), 0.0)):
                raise ValueError(f"Tableau `{name}` must have {s} entries summing to 0.")
        if self.b_err is not None and self.error_order is None:
            raise ValueError("Tableau with an error estimate needs `error_order`.")
        if self.fsal and (
            self.c[-1] != 1
            or self.b[-1] != 0
            or not all(_close(x, y) for x, y in zip(self.a[-1], self.b[:-1]))
        ):
            raise ValueError("FSAL tableau: last row must equal `b` with c = 1 and b[-1] = 0.")
        if self.dense is not None:
            self._check_dense()

    def _check_dense(self):
        nstages = len(self.b) + len(self.a_extra)
        if len(self.dense) != nstages:
            raise ValueError(f"Dense output must have {nstages} rows, has {len(self.dense)}.")
        bext = self.b + (0.0,) * len(self.a_extra)
        for i, (row, bi) in enumerate(zip(self.dense, bext)):
            if not _close(sum(row), bi):
                raise ValueError(f"Dense output row {i} sums to {sum(row)} at θ = 1, not b = {bi}.")
        if not _close(sum(row[0] for row in self.dense), 1.0):
            raise ValueError("Dense output must be consistent: Σ of linear coefficients != 1.")

    @property
    def stages(self) -> int:
        """Number of stages of one step (without dense-output stages)."""
        return len(self.b)

    @property
    def adaptive(self) -> bool:
        """Whether the tableau has an error estimate."""
        return self.b_err is not None

    def tensor(self, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """Return coefficient `name` (`'b'`, `'b_err'`, `'dense'`, ...) as a cached tensor."""
        key = (name, dtype, device)
        if key not in self._cache:
            self._cache[key] = torch.tensor(getattr(self, name), dtype=dtype, device=device)
        return self._cache[key]
