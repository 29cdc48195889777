"""Global defaults: precision (complex dtype) and device."""

from __future__ import annotations

import torch

__all__ = [
    "get_cdtype",
    "get_device",
    "get_layout",
    "get_rdtype",
    "set_device",
    "set_layout",
    "set_precision",
]

_CDTYPES = {"single": torch.complex64, "double": torch.complex128}
_LAYOUTS = ("auto", "dense", "banded")
_state = {"precision": "double", "device": torch.device("cpu"), "layout": "auto"}


def set_precision(precision: str) -> None:
    """Set the default precision of every tensor qdynamics creates.

    Args:
        precision: `'single'` (complex64, float32) or `'double'` (complex128, float64).

    Raises:
        ValueError: If `precision` is neither `'single'` nor `'double'`.

    Examples:
        >>> import dynamics as qd
        >>> qd.set_precision('single')
        >>> qd.sigmax().dtype
        torch.complex64
        >>> qd.set_precision('double')
    """
    if precision not in _CDTYPES:
        raise ValueError(
            f"Argument `precision` must be 'single' or 'double', but is {precision!r}."
        )
    _state["precision"] = precision


def set_device(device: str | torch.device) -> None:
    """Set the default device of every tensor qdynamics creates.

    Args:
        device: A torch device or its name, e.g. `'cpu'` or `'cuda:0'`.

    Examples:
        >>> import dynamics as qd
        >>> qd.set_device('cpu')
    """
    _state["device"] = torch.device(device)


def get_cdtype(dtype: torch.dtype | None = None) -> torch.dtype:
    """Return the complex dtype to use: `dtype` made complex, or the default."""
    if dtype is None:
        return _CDTYPES[_state["precision"]]
    if dtype in (torch.float32, torch.complex64):
        return torch.complex64
    if dtype in (torch.float64, torch.complex128):
        return torch.complex128
    raise TypeError(
        "Argument `dtype` must be one of torch.complex64, torch.complex128, "
        f"torch.float32 or torch.float64, but is {dtype}."
    )


def get_rdtype(dtype: torch.dtype | None = None) -> torch.dtype:
    """Return the real dtype matching `dtype` (or the default precision)."""
    return torch.float32 if get_cdtype(dtype) == torch.complex64 else torch.float64


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return `device` as a torch device, or the default device."""
    return _state["device"] if device is None else torch.device(device)


def set_layout(layout: str) -> None:
    """Set how the solve functions store constant operators in their right-hand sides.

    Banded operators (ladder, number, Kerr, Pauli and spin operators and their tensor
    products) can be kept as their nonzero diagonals, so that a product with a state
    costs O(number of diagonals × n²) instead of O(n³). The layout is internal: inputs
    and results stay dense tensors, and gradients are the same.

    Args:
        layout: `'auto'` (default: banded when the band is narrow and the dimension large
            enough for it to pay, measured crossover n ≈ 64; for a small constant
            Lindbladian, n ≤ 12, one `n² × n²` superoperator product), `'dense'` or
            `'banded'` (always, for constant operators). Per call:
            `qd.Options(layout=...)`.

    Raises:
        ValueError: If `layout` is not one of `'auto'`, `'dense'`, `'banded'`.

    Examples:
        >>> import dynamics as qd
        >>> qd.set_layout('dense')
        >>> qd.set_layout('auto')
    """
    _state["layout"] = check_layout(layout)


def get_layout(layout: str | None = None) -> str:
    """Return `layout` (checked), or the default set by `set_layout`."""
    return _state["layout"] if layout is None else check_layout(layout)


def check_layout(layout: object) -> str:
    """Return `layout` if it is a known layout name; raise `ValueError` otherwise."""
    if layout not in _LAYOUTS:
        raise ValueError(f"Argument `layout` must be one of {_LAYOUTS}, but is {layout!r}.")
    return layout
