"""Results of the solve functions."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["PropagatorResult", "Result"]


def _describe(x: torch.Tensor | None) -> str:
    if x is None:
        return "None"
    return f"{tuple(x.shape)} {str(x.dtype).removeprefix('torch.')}"


@dataclass(frozen=True, eq=False)
class Result:
    r"""The result of `sesolve` or `mesolve`.

    Attributes:
        tsave: The save times, shape `(ntsave,)`.
        states: The states at the save times, shape `(..., ntsave, n, m)` (`m = 1`
            for kets), or `None` when `Options(save_states=False)`.
        expects: Expectation values of `exp_ops`, complex, shape
            `(..., nexp, ntsave)`, or `None` without `exp_ops`.
        final_state: The state at the last save time, shape `(..., n, m)`.
        infos: `steps`, `rejected`, `nfev` (right-hand-side or step-map
            evaluations) and `wall_time` in seconds.
        solver: Name of the solve function.
        method: The method used.
        gradient: The gradient mode used (`None`: plain autograd).

    Examples:
        A qubit precessing about $x$: $\langle\sigma_z\rangle(t) = \cos 2t$.

        >>> import torch, dynamics as qd
        >>> res = qd.sesolve(qd.sigmax(), qd.basis(2, 0), [0.0, 0.5, 1.0], exp_ops=[qd.sigmaz()])
        >>> res.states.shape, res.expects.shape, res.final_state.shape
        (torch.Size([3, 2, 1]), torch.Size([1, 3]), torch.Size([2, 1]))
        >>> torch.allclose(res.expects[0].real, torch.cos(2 * res.tsave), atol=1e-6)
        True
        >>> res.solver, sorted(res.infos)
        ('sesolve', ['nfev', 'rejected', 'steps', 'wall_time'])
    """

    tsave: torch.Tensor
    states: torch.Tensor | None
    expects: torch.Tensor | None
    final_state: torch.Tensor
    infos: dict = field(default_factory=dict)
    solver: str = ""
    method: object = None
    gradient: object = None

    _states_label = "states"

    def _lines(self) -> list[str]:
        i = self.infos
        return [
            f"  method: {self.method!r}",
            f"  gradient: {self.gradient!r}",
            f"  tsave: {_describe(self.tsave)}",
            f"  {self._states_label}: {_describe(self.states)}",
            f"  expects: {_describe(self.expects)}",
            f"  infos: {i.get('steps')} steps ({i.get('rejected')} rejected), "
            f"{i.get('nfev')} evaluations, {i.get('wall_time', 0.0):.3g} s",
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.solver}\n" + "\n".join(self._lines()) + "\n)"


@dataclass(frozen=True, eq=False, repr=False)
class PropagatorResult(Result):
    """The result of `sepropagator` or `mepropagator`.

    `propagators` (an alias of `states`) has shape `(..., ntsave, n, n)` for
    `sepropagator` and `(..., ntsave, n², n²)` for `mepropagator` (superoperators on
    column-stacked density matrices, QuTiP's convention).

    Examples:
        >>> import torch, dynamics as qd
        >>> res = qd.sepropagator(qd.sigmaz(), [0.0, 0.5, 1.0], method=qd.method.Expm())
        >>> res.propagators.shape  # (ntsave, n, n)
        torch.Size([3, 2, 2])
        >>> torch.allclose(res.final_propagator, torch.linalg.matrix_exp(-1j * qd.sigmaz()))
        True
    """

    _states_label = "propagators"

    @property
    def propagators(self) -> torch.Tensor:
        """The propagators at the save times."""
        return self.states

    @property
    def final_propagator(self) -> torch.Tensor:
        """The propagator at the last save time."""
        return self.final_state
