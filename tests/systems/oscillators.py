"""A damped harmonic oscillator in a coherent state (formulas in `tests/systems/README.md`)."""

from __future__ import annotations

import torch

from .base import C128, System, tensor


def coherent_amplitudes(n: int, alpha: torch.Tensor) -> torch.Tensor:
    r"""Exact Fock amplitudes $e^{-|\alpha|^2/2}\alpha^k/\sqrt{k!}$, $k < n$, of $|\alpha\rangle$.

    `alpha` has shape `(...)` (complex allowed); returns `(..., n, 1)`, not renormalised
    (the missing norm is the Poisson tail beyond `n`).
    """
    k = torch.arange(n, dtype=torch.float64)
    alpha = alpha.to(C128)[..., None]
    log_norm = -(alpha.abs() ** 2) / 2 - torch.lgamma(k + 1) / 2
    return (torch.exp(log_norm) * alpha**k).unsqueeze(-1)


class DampedOscillator(System):
    r"""$H = \omega a^\dagger a$, $L = \sqrt{\kappa}\,a$, $\rho_0 = |\alpha\rangle\langle\alpha|$.

    The state stays coherent: $\rho(t) = |\alpha(t)\rangle\langle\alpha(t)|$ with
    $\alpha(t) = \alpha e^{-(\kappa/2 + i\omega) t}$, so $\langle a\rangle = \alpha(t)$ and
    $\langle a^\dagger a\rangle = |\alpha|^2 e^{-\kappa t}$. Parameters `alpha` (real),
    `kappa`, `omega`. Truncation: the coherences $\rho_{0k}$ miss the feed from level $n$,
    an error of about $\kappa t\sqrt{n}\,|c_1 c_n|$ with $c_k$ the Fock amplitudes of
    $|\alpha\rangle$; below 1e-12 for the defaults ($\alpha = 1$, $n = 24$).
    """

    closed = False
    piecewise_constant = True

    def __init__(self, n: int = 24, alpha: float = 1.0, kappa: float = 0.4, omega: float = 1.0):
        self.n = n
        self.name = f"DampedOscillator(n={n},alpha={alpha},kappa={kappa})"
        self.params = {"alpha": tensor(alpha), "kappa": tensor(kappa), "omega": tensor(omega)}
        self.tsave = torch.linspace(0.0, 3.0, 7, dtype=torch.float64)
        self.a = torch.diag(torch.arange(1, n, dtype=torch.float64).sqrt(), 1).to(C128)

    def H(self, p=None):
        p = self.params if p is None else p
        return p["omega"] * self.a.mH @ self.a

    def jump_ops(self, p=None):
        p = self.params if p is None else p
        return [torch.sqrt(p["kappa"]) * self.a]

    def psi0(self, p=None):
        p = self.params if p is None else p
        return coherent_amplitudes(self.n, p["alpha"])

    @property
    def exp_ops(self):
        return [self.a, self.a.mH @ self.a]

    def alpha_t(self, t, p=None):
        """$\\alpha(t) = \\alpha e^{-(\\kappa/2 + i\\omega)t}$."""
        p = self.params if p is None else p
        return p["alpha"] * torch.exp(-(p["kappa"] / 2 + 1j * p["omega"]) * t)

    def _rho(self, t, p):
        psi = coherent_amplitudes(self.n, self.alpha_t(t, p))
        return psi @ psi.mH

    def _expects(self, t, p):
        a_mean = self.alpha_t(t, p)
        n_mean = p["alpha"] ** 2 * torch.exp(-p["kappa"] * t)
        return torch.stack([a_mean, n_mean.to(C128)])

    # explicit gradient formulas (checked against `grads` in the tests)
    def da_dalpha(self, t):
        """$\\partial\\langle a\\rangle/\\partial\\alpha = e^{-(\\kappa/2 + i\\omega)t}$."""
        p = self.params
        return torch.exp(-(p["kappa"] / 2 + 1j * p["omega"]) * t)

    def da_dkappa(self, t):
        """$\\partial\\langle a\\rangle/\\partial\\kappa = -\\frac{t}{2}\\langle a\\rangle$."""
        return -t / 2 * self.alpha_t(t)

    def da_domega(self, t):
        """$\\partial\\langle a\\rangle/\\partial\\omega = -it\\langle a\\rangle$."""
        return -1j * t * self.alpha_t(t)

    def dn_dalpha(self, t):
        """$\\partial\\langle a^\\dagger a\\rangle/\\partial\\alpha = 2\\alpha e^{-\\kappa t}$."""
        p = self.params
        return 2 * p["alpha"] * torch.exp(-p["kappa"] * t)

    def dn_dkappa(self, t):
        """$\\partial\\langle a^\\dagger a\\rangle/\\partial\\kappa = -t|\\alpha|^2 e^{-\\kappa t}$."""
        p = self.params
        return -t * p["alpha"] ** 2 * torch.exp(-p["kappa"] * t)
