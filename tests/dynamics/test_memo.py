"""Memos of tensor facts (`dynamics._memo`): hits for the same, unmodified tensor only."""

from __future__ import annotations

import gc

import pytest
import torch

import dynamics as qd
from dynamics._banded import band_offsets
from dynamics._memo import MIN_NUMEL, memo_by_tensor

N = 256  # N × N = 65,536 entries ≥ MIN_NUMEL: memoised


def _counting():
    calls = []

    @memo_by_tensor
    def fact(x, *args):
        calls.append(args)
        return float(x.abs().sum()) + sum(args)

    return fact, calls


def test_hits_for_the_same_tensor_and_its_views():
    assert N * N >= MIN_NUMEL
    fact, calls = _counting()
    H = torch.randn(N, N)
    assert fact(H) == fact(H)
    assert fact(H.unsqueeze(0)) == fact(H)  # a view: same base, new geometry, computed once
    assert fact(H.unsqueeze(0)) == fact(H)
    assert len(calls) == 2
    fact(H, 1.0)  # other arguments are other facts
    assert len(calls) == 3


def test_in_place_modification_invalidates():
    fact, calls = _counting()
    H = torch.zeros(N, N)
    assert fact(H) == 0.0
    H[0, 0] = 2.0
    assert fact(H) == 2.0
    H.unsqueeze(0)[0, 1, 1] = 1.0  # through a view: the version counter is shared
    assert fact(H) == 3.0
    assert len(calls) == 3


def test_equal_values_in_another_tensor_are_not_confused():
    fact, calls = _counting()
    H = torch.zeros(N, N)
    fact(H)
    G = torch.ones(N, N)
    assert fact(G) == N * N
    assert len(calls) == 2
    del H, G
    gc.collect()
    assert not fact.memos  # memos die with their tensors


def test_small_and_inference_tensors_are_not_memoised():
    fact, calls = _counting()
    small = torch.ones(4, 4)
    fact(small), fact(small)
    with torch.inference_mode():
        big = torch.ones(N, N)
    fact(big), fact(big)
    assert len(calls) == 4


def test_band_offsets_follow_in_place_changes():
    H = torch.diag(torch.ones(N - 1), 1).to(torch.complex128)
    assert band_offsets(H) == (1,)
    H[5, 0] = 1.0
    assert band_offsets(H) == (-5, 1)


def test_solve_sees_a_modified_operator():
    """The memoised checks never hide NaNs or new diagonals put in after a first solve."""
    n = 128
    a = qd.destroy(n)
    H = (a.mH @ a).clone()
    psi0 = qd.coherent(n, 1.0)
    tsave = torch.linspace(0.0, 1.0, 3, dtype=torch.float64)
    x = a + a.mH
    first = qd.sesolve(H, psi0, tsave, exp_ops=[x]).expects
    H += 0.3 * x  # a drive: new diagonals, found again
    second = qd.sesolve(H, psi0, tsave, exp_ops=[x]).expects
    dense = qd.sesolve(H, psi0, tsave, exp_ops=[x], options=qd.Options(layout="dense")).expects
    assert not torch.allclose(first, second)
    torch.testing.assert_close(second, dense, atol=1e-6, rtol=0)
    H[0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        qd.sesolve(H, psi0, tsave)
