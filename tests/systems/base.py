"""The interface of a test system: a solve problem with a closed-form solution."""

from __future__ import annotations

import abc

import torch

import dynamics as qd

C128 = torch.complex128
F64 = torch.float64


def tensor(x) -> torch.Tensor:
    """A float64 tensor (a fresh leaf one can call `requires_grad_()` on)."""
    return torch.as_tensor(x, dtype=F64).clone()


def pauli() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """σx, σy, σz in QuTiP's convention (`basis(2, 0)` is the σz = +1, excited, state)."""
    sx = torch.tensor([[0, 1], [1, 0]], dtype=C128)
    sy = torch.tensor([[0, -1j], [1j, 0]], dtype=C128)
    sz = torch.tensor([[1, 0], [0, -1]], dtype=C128)
    return sx, sy, sz


class System(abc.ABC):
    """A Schrödinger or Lindblad problem with an exact solution.

    The parameters live in `params`, a dict of real float64 tensors; the operators are
    rebuilt from them on every `run`, so setting `requires_grad_()` on a parameter
    makes the solve differentiable with respect to it. The closed forms are written in
    torch, so `grads` differentiates them exactly (no integration involved).

    Times are measured from 0: solve with `Options(t0=0.0)` when `tsave[0] > 0`.
    """

    name: str
    n: int
    params: dict[str, torch.Tensor]
    tsave: torch.Tensor
    piecewise_constant: bool = True  # H and jump operators constant or pwc
    closed: bool = True  # no jump operators: sesolve and sepropagator apply
    hidden_params: tuple[str, ...] = ()  # captured in closures: invisible to the solvers

    # --------------------------------------------------------------- problem definition

    @abc.abstractmethod
    def H(self, p: dict[str, torch.Tensor] | None = None):
        """The Hamiltonian (tensor or time-dependent operator) built from `p` (default `params`)."""

    def jump_ops(self, p: dict[str, torch.Tensor] | None = None) -> list:
        """The jump operators built from `p` (default `params`)."""
        return []

    @abc.abstractmethod
    def psi0(self, p: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """The initial ket `(n, 1)` (the initial density matrix is its projector)."""

    @property
    @abc.abstractmethod
    def exp_ops(self) -> list[torch.Tensor]:
        """Operators whose expectation values `expects` gives in closed form."""

    # --------------------------------------------------------------- closed forms

    @abc.abstractmethod
    def _rho(self, t: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """The exact density matrix at times `t` `(nt,)`: `(nt, n, n)`."""

    def _ket(self, t: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """The exact ket at times `t` `(nt,)`: `(nt, n, 1)` (closed systems only)."""
        raise NotImplementedError(f"{self.name} is not a closed system.")

    def _expects(self, t: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """The exact expectation values `(nexp, nt)`; by default `Tr(E ρ(t))`."""
        rho = self._rho(t, p)
        return torch.stack([(E.mT * rho).sum((-1, -2)) for E in self.exp_ops])

    def evolve(self, rho: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The exact (linear) evolution map applied to any `(n, n)` matrix: `(nt, n, n)`."""
        raise NotImplementedError(f"{self.name} has no closed-form evolution map.")

    # --------------------------------------------------------------- public helpers

    def state(self, t: torch.Tensor, solver: str) -> torch.Tensor:
        """The exact state at `t`: kets for `sesolve`, density matrices for `mesolve`."""
        return self._ket(t, self.params) if solver == "sesolve" else self._rho(t, self.params)

    def expects(self, t: torch.Tensor) -> torch.Tensor:
        """The exact expectation values of `exp_ops`, complex, shape `(nexp, nt)`."""
        return self._expects(t, self.params)

    def grads(self, t: torch.Tensor) -> dict[str, torch.Tensor]:
        r"""Exact derivatives $\partial\langle E_i\rangle(t)/\partial p$ for every parameter.

        Returns a dict `name -> (nexp, nt, *p.shape)` complex tensor, obtained by
        differentiating the closed form (so it is exact).
        """
        out = {}
        for name, value in self.params.items():

            def f(x, name=name):
                p = {**self.params, name: x}
                return torch.view_as_real(self._expects(t, p))

            jac = torch.autograd.functional.jacobian(f, value.detach().clone())
            out[name] = torch.view_as_complex(jac.movedim(2, -1).contiguous())
        return out

    def propagator(self, t: torch.Tensor) -> torch.Tensor:
        """The exact Schrödinger propagator at `t`: `(nt, n, n)` (closed systems only)."""
        cols = [self._ket_from(e.unsqueeze(-1), t) for e in torch.eye(self.n, dtype=C128)]
        return torch.cat(cols, dim=-1)

    def _ket_from(self, psi: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no closed-form propagator.")

    def superoperator(self, t: torch.Tensor) -> torch.Tensor:
        """The exact propagator superoperator on column-stacked ρ: `(nt, n², n²)`."""
        n = self.n
        cols = []
        for b in range(n * n):
            E = torch.zeros(n, n, dtype=C128)
            E[b % n, b // n] = 1.0  # vec(E) = e_b with column stacking
            cols.append(self.evolve(E, t).mT.reshape(-1, n * n))
        return torch.stack(cols, dim=-1)

    # --------------------------------------------------------------- solving

    def run(
        self,
        method,
        *,
        solver: str = "mesolve",
        tsave: torch.Tensor | None = None,
        exp_ops: bool = True,
        gradient=None,
        options: qd.Options | None = None,
    ):
        """Solve the problem with `qd.<solver>` (`sesolve`, `mesolve`, `sepropagator`, `mepropagator`)."""
        tsave = self.tsave if tsave is None else tsave
        if options is None and float(tsave[0]) != 0.0:
            options = qd.Options(t0=0.0)
        kwargs = {"method": method, "gradient": gradient, "options": options}
        E = self.exp_ops if exp_ops else None
        H = self.H()
        if solver == "sesolve":
            return qd.sesolve(H, self.psi0(), tsave, exp_ops=E, **kwargs)
        if solver == "mesolve":
            rho0 = self.psi0() @ self.psi0().mH
            return qd.mesolve(H, self.jump_ops(), rho0, tsave, exp_ops=E, **kwargs)
        if solver == "sepropagator":
            return qd.sepropagator(H, tsave, **kwargs)
        if solver == "mepropagator":
            return qd.mepropagator(H, self.jump_ops(), tsave, **kwargs)
        raise ValueError(f"Unknown solver {solver!r}.")

    def __repr__(self) -> str:
        return self.name
