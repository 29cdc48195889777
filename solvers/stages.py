"""Storage of Runge–Kutta stages and their linear combinations.

`ListStages` keeps every stage as its own tensor and combines them with a chain of
`add`s that autograd records. (A preallocated real buffer combined by one `addmv`
per stage was measured slower here at n = 32: the view and copy calls cost more than
the adds they replace. Faster stores belong with a compiled step.)
"""

from __future__ import annotations

import torch

__all__ = ["ListStages"]


class ListStages:
    """Stages as a list of tensors; every combination is recorded by autograd."""

    def __init__(self, tableau):
        self.tab = tableau
        self.ks: list[torch.Tensor] = []

    def set(self, i: int, k: torch.Tensor) -> None:
        """Store stage `i`."""
        del self.ks[i:]
        self.ks.append(k)

    def get(self, i: int) -> torch.Tensor:
        """Return stage `i`."""
        return self.ks[i]

    def combine(self, y: torch.Tensor | None, coeffs, h: float) -> torch.Tensor:
        """Return `y + h Σ_j coeffs[j] k_j` (`y = None` means zero), skipping zeros."""
        out = y
        for cj, kj in zip(coeffs, self.ks):
            if cj != 0.0:
                out = kj * (h * cj) if out is None else torch.add(out, kj, alpha=h * cj)
        return out if out is not None else torch.zeros_like(self.ks[0])

    def dense(self, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Return `y + Σ_s w[:, s] k_s`, shape `(m, *y.shape)`."""
        K = torch.stack(self.ks[: w.shape[1]])
        return y + torch.tensordot(w.to(K.dtype), K, dims=([1], [0]))
