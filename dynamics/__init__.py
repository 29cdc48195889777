"""qdynamics: differentiable quantum dynamics on PyTorch (`import dynamics as qd`)."""

from solvers import SolverError

from . import control, gradient, method, plot
from ._config import set_device, set_layout, set_precision
from ._convert import to_qutip, to_tensor
from .linalg import dag, entropy_vn, expect, fidelity, norm, ptrace, purity, tensor, trace, unit
from .mesolve import mesolve
from .operators import (
    create,
    destroy,
    displace,
    eye,
    number,
    parity,
    sigmam,
    sigmap,
    sigmax,
    sigmay,
    sigmaz,
    squeeze,
)
from .options import Options
from .propagators import mepropagator, sepropagator
from .result import PropagatorResult, Result
from .sesolve import sesolve
from .states import basis, coherent, coherent_dm, fock, fock_dm, ket2dm
from .time_operators import (
    CallableOperator,
    ConstantOperator,
    ModulatedOperator,
    PWCOperator,
    SumOperator,
    TimeOperator,
    constant,
    modulated,
    pwc,
    timecallable,
)
from .wigner import wigner

__version__ = "0.1.0"

__all__ = [
    "CallableOperator",
    "ConstantOperator",
    "ModulatedOperator",
    "Options",
    "PWCOperator",
    "PropagatorResult",
    "Result",
    "SolverError",
    "SumOperator",
    "TimeOperator",
    "basis",
    "coherent",
    "coherent_dm",
    "constant",
    "control",
    "create",
    "dag",
    "destroy",
    "displace",
    "entropy_vn",
    "expect",
    "eye",
    "fidelity",
    "fock",
    "fock_dm",
    "gradient",
    "ket2dm",
    "mepropagator",
    "mesolve",
    "method",
    "modulated",
    "norm",
    "number",
    "parity",
    "plot",
    "ptrace",
    "purity",
    "pwc",
    "sepropagator",
    "sesolve",
    "set_device",
    "set_layout",
    "set_precision",
    "sigmam",
    "sigmap",
    "sigmax",
    "sigmay",
    "sigmaz",
    "squeeze",
    "tensor",
    "timecallable",
    "to_qutip",
    "to_tensor",
    "trace",
    "unit",
    "wigner",
]
