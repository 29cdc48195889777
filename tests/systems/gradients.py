"""Gradient modes and small methods built from the registries by what they declare.

Nothing here looks at a class name: a gradient mode is applicable when the method lists
it in `supported_gradients`, a mode's integer settings (checkpoints, segment lengths)
are found among its dataclass fields, and a fixed-step method is any method with a
`dt` field.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from solvers import AbstractGradient, AbstractMethod

__all__ = [
    "fixed_step",
    "make_gradient",
    "one_thread",
    "real_part_loss",
    "supports",
    "takes",
]


def supports(method_cls: type, gradient_cls: type) -> bool:
    """Whether the method class declares support for the gradient mode class."""
    return gradient_cls.__name__ in method_cls.supported_gradients


def takes(cls: type, argument: str) -> bool:
    """Whether the dataclass `cls` has the constructor argument `argument`."""
    return any(f.name == argument and f.init for f in dataclasses.fields(cls))


def make_gradient(cls: type, *, params=(), segments: int | None = None) -> AbstractGradient:
    """An instance of the gradient mode `cls`, with `params` if it takes them.

    With `segments`, every integer setting of the mode (e.g. `ncheckpoints`,
    `segment_steps`) is set to it: small values cut even short runs into several
    replayed segments.
    """
    kwargs = {"params": tuple(params)} if takes(cls, "params") else {}
    if segments is not None:
        for f in dataclasses.fields(cls):
            if f.init and isinstance(f.default, int) and not isinstance(f.default, bool):
                kwargs[f.name] = segments
    return cls(**kwargs)


def fixed_step(cls: type, dt: float) -> AbstractMethod:
    """The method with a fixed step `dt` (every method of the registry has a `dt` field)."""
    if not takes(cls, "dt"):
        raise TypeError(f"{cls.__name__} has no fixed-step mode (no `dt` argument).")
    return cls(dt=dt)


def real_part_loss(z: torch.Tensor, seed: int) -> torch.Tensor:
    """A real scalar `Σ (u·Re z + v·Im z)` with fixed random weights `u`, `v` of `z`'s shape."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(*z.shape, 2, dtype=torch.float64, generator=g).to(z.real.dtype)
    if not z.is_complex():
        return (w[..., 0] * z).sum()
    return (w[..., 0] * z.real + w[..., 1] * z.imag).sum()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Run a test module with one intra-op thread, restoring the setting afterwards.

    Gradient tests solve tiny systems (n ≤ 12), where extra threads only add
    synchronisation: on this two-core machine under load, a 2×2 complex Cholesky
    factorisation (one per Rouchon step) took 12 ms with two threads and 3 µs with one.
    Import this fixture into a test module to use it.
    """
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
