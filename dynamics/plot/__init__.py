"""Plots of states, pulses and expectation values with matplotlib (`dynamics.plot`).

Every function draws on the axes given as `ax=` (a new figure when omitted),
returns those axes and never calls `plt.show()`.
"""

from .expects import plot_expects
from .fock import plot_fock
from .pulses import plot_pulses
from .wigner import plot_wigner

__all__ = ["plot_expects", "plot_fock", "plot_pulses", "plot_wigner"]
