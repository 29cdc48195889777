"""Dormand–Prince 5(4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .explicit_rk import AbstractAdaptiveRK
from .tableau import ButcherTableau

__all__ = ["Dopri5"]

# Dormand & Prince (1980); dense output of order 4 (Hairer, Nørsett & Wanner, II.6).
A = (
    (),
    (0.2,),
    (
        0.075,
        0.225,
    ),
    (
        0.9777777777777777,
        -3.7333333333333334,
        3.5555555555555554,
    ),
    (
        2.9525986892242035,
        -11.595793324188385,
        9.822892851699436,
        -0.2908093278463649,
    ),
    (
        2.8462752525252526,
        -10.757575757575758,
        8.906422717743473,
        0.2784090909090909,
        -0.2735313036020583,
    ),
    (
        0.09114583333333333,
        0.0,
        0.44923629829290207,
        0.6510416666666666,
        -0.322376179245283,
        0.13095238095238096,
    ),
)
B = (
    0.09114583333333333,
    0.0,
    0.44923629829290207,
    0.6510416666666666,
    -0.322376179245283,
    0.13095238095238096,
    0.0,
)
C = (
    0.0,
    0.2,
    0.3,
    0.8,
    0.8888888888888888,
    1.0,
    1.0,
)
B_ERR = (
    -0.0012326388888888888,
    0.0,
    0.0042527702905061394,
    -0.03697916666666667,
    0.05086379716981132,
    -0.0419047619047619,
    0.025,
)
DENSE = (
    (
        1.0,
        -2.8535800653862835,
        3.0717434641059005,
        -1.1270175653862835,
    ),
    (
        0.0,
        0.0,
        0.0,
        0.0,
    ),
    (
        0.0,
        4.023133379230305,
        -6.249321565289,
        2.675424484351598,
    ),
    (
        0.0,
        -3.7324019615885042,
        10.068970589843675,
        -5.685526961588504,
    ),
    (
        0.0,
        2.5548038301849423,
        -6.399112377351017,
        3.5219323679207912,
    ),
    (
        0.0,
        -1.3744241142186024,
        3.272657752246729,
        -1.7672812570757455,
    ),
    (
        0.0,
        1.3824689317781436,
        -3.764937863556287,
        2.382468931778144,
    ),
)

DOPRI5 = ButcherTableau(a=A, b=B, c=C, order=5, b_err=B_ERR, error_order=4, fsal=True, dense=DENSE)


@dataclass(frozen=True, kw_only=True)
class Dopri5(AbstractAdaptiveRK):
    """Dormand–Prince method of order 5 with an embedded order-4 error estimate.

    Adaptive (`rtol`, `atol`) or fixed-step (`dt`); 6 function evaluations per step
    (first same as last), dense output of order 4. Supports every gradient mode.

    Reference: J. R. Dormand and P. J. Prince, "A family of embedded Runge-Kutta
    formulae", J. Comp. Appl. Math. 6, 19 (1980).

    Examples:
        >>> from solvers import Dopri5
        >>> Dopri5(rtol=1e-8, atol=1e-10)
        Dopri5(rtol=1e-08, atol=1e-10, dt=None, max_steps=100000, safety=0.9, min_factor=0.2, max_factor=10.0)
    """

    tableau: ClassVar[ButcherTableau] = DOPRI5
