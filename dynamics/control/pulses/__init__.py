r"""Pulse parametrisations: the amplitudes $u_k(t)$ of $H(t) = H_0 + \sum_k u_k(t) H_k$.

Each parametrisation is a `torch.nn.Module`. `forward()` returns the amplitudes on the
slices of a time grid `times` (shape `(N + 1,)`), a real tensor of shape
`(*batch_shape, ncontrols, N)`, and `hamiltonian(H0, controls)` turns them into the
piecewise-constant operator the solve functions take. Leading `batch_shape` dimensions
hold independent pulses (multi-start optimisation, ensembles).

Modules: `_base` (the abstract `Pulse`, bounds, argument conversions), `free`
(`PWC`, `Fourier`, `Spline`), `shapes` (`Gaussian`, `DRAG`) and `filters`
(`Filtered`, `Ramped`, `gaussian_kernel`).
"""

from ._base import Bounds as Bounds
from ._base import Pulse
from .filters import Filtered, Ramped, gaussian_kernel
from .free import PWC, Fourier, Spline
from .shapes import DRAG, Gaussian

__all__ = [
    "DRAG",
    "PWC",
    "Filtered",
    "Fourier",
    "Gaussian",
    "Pulse",
    "Ramped",
    "Spline",
    "gaussian_kernel",
]
