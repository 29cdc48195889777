"""Butcher tableaux: self-checks, broken tableaux, and the order conditions.

The order conditions are checked on every rooted tree (Butcher's theory): a tableau
has order `p` if `Σ_i b_i Φ_i(τ) = 1/γ(τ)` for every tree `τ` with at most `p` nodes,
where `Φ(•) = 1`, `Φ([τ_1, ..., τ_m]) = Π_k (A Φ(τ_k))` (component-wise) and
`γ([τ_1, ..., τ_m]) = |τ| Π_k γ(τ_k)`. A continuous extension `b(θ)` of order `q`
satisfies `Σ_i b_i(θ) Φ_i(τ) = θ^|τ| / γ(τ)` for `|τ| ≤ q`.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest

from solvers import ButcherTableau

# Residual allowed in an order condition: the coefficients are rounded to double.
TOL = 1e-11


# ---------------------------------------------------------------------- rooted trees


@functools.cache
def trees(n: int) -> tuple[tuple, ...]:
    """All rooted trees with `n` nodes; a tree is the sorted tuple of its subtrees."""
    if n == 1:
        return ((),)
    out = set()
    for tree in trees(n - 1):
        out.update(_graft(tree))
    return tuple(sorted(out))


def _graft(tree: tuple):
    """Every tree obtained from `tree` by attaching one leaf to one of its nodes."""
    yield tuple(sorted((*tree, ())))
    for i, child in enumerate(tree):
        for grown in _graft(child):
            yield tuple(sorted((*tree[:i], grown, *tree[i + 1 :])))


def size(tree: tuple) -> int:
    return 1 + sum(size(c) for c in tree)


def gamma(tree: tuple) -> int:
    return size(tree) * math.prod(gamma(c) for c in tree)


def phi(tree: tuple, A: np.ndarray) -> np.ndarray:
    """The stage vector `Φ(τ)` of a tree."""
    out = np.ones(A.shape[0])
    for child in tree:
        out = out * (A @ phi(child, A))
    return out


def full_matrix(tab: ButcherTableau) -> np.ndarray:
    """The square matrix `A` of all stages, the dense-output stages included."""
    rows = tab.a + tab.a_extra
    A = np.zeros((len(rows), len(rows)))
    for i, row in enumerate(rows):
        A[i, : len(row)] = row
    return A


def residuals(weights: np.ndarray, A: np.ndarray, order: int, theta: float = 1.0):
    """`(tree, Σ w Φ(τ) - θ^|τ|/γ(τ))` for every tree with `order` nodes."""
    w = np.zeros(A.shape[0])
    w[: len(weights)] = weights
    return [(t, w @ phi(t, A) - theta**order / gamma(t)) for t in trees(order)]


def satisfied(weights, A, order: int, theta: float = 1.0) -> bool:
    return all(abs(r) <= TOL for _, r in residuals(np.asarray(weights), A, order, theta))


def highest_order(weights, A, limit: int = 9) -> int:
    """The largest `p` such that every condition of order `≤ p` holds."""
    p = 0
    while p < limit and satisfied(weights, A, p + 1):
        p += 1
    return p


def dense_weights(tab: ButcherTableau, theta: float) -> np.ndarray:
    """`b_i(θ) = Σ_j dense[i][j] θ^(j+1)`."""
    D = np.array(tab.dense)
    return D @ theta ** np.arange(1, D.shape[1] + 1)


def dense_order(tab: ButcherTableau) -> int:
    """The claimed dense order: the degree of the interpolating polynomial in θ."""
    return len(tab.dense[0])


def test_tree_counts():
    # OEIS A000081: the number of rooted trees with n nodes.
    assert [len(trees(n)) for n in range(1, 9)] == [1, 1, 2, 4, 9, 20, 48, 115]


def test_tree_elementary_weights_of_order_4():
    # The classical list: Σb c = 1/2, Σb c² = 1/3, Σb a c = 1/6, Σb c³ = 1/4, ...
    assert sorted(gamma(t) for t in trees(3)) == [3, 6]
    assert sorted(gamma(t) for t in trees(4)) == [4, 8, 12, 24]


# ---------------------------------------------------------------- registry tableaux


def test_tableau_self_checks(rk_cls):
    tab = rk_cls.tableau
    # Rebuilding it runs every check of `__post_init__` again.
    assert dataclasses.replace(tab) == tab
    c = tab.c + tab.c_extra
    for i, row in enumerate(tab.a + tab.a_extra):
        assert math.isclose(sum(row), c[i], abs_tol=1e-12), f"row {i}"
    assert math.isclose(sum(tab.b), 1.0, abs_tol=1e-12)
    if tab.adaptive:
        assert tab.error_order is not None
        assert abs(sum(tab.b_err)) < 1e-12
    if tab.b_err_low is not None:
        assert abs(sum(tab.b_err_low)) < 1e-12
    if tab.fsal:
        assert tab.c[-1] == 1 and tab.b[-1] == 0
        np.testing.assert_allclose(tab.a[-1], tab.b[:-1], atol=1e-14)


def test_dense_output_reaches_b_at_theta_one(rk_cls):
    tab = rk_cls.tableau
    if tab.dense is None:
        pytest.skip("no dense output")
    b = np.zeros(len(tab.dense))
    b[: len(tab.b)] = tab.b
    np.testing.assert_allclose(dense_weights(tab, 1.0), b, atol=1e-12)
    np.testing.assert_allclose(dense_weights(tab, 0.0), 0.0, atol=0)


def test_order_conditions(rk_cls):
    tab = rk_cls.tableau
    A = full_matrix(tab)
    for p in range(1, tab.order + 1):
        bad = [(t, r) for t, r in residuals(np.array(tab.b), A, p) if abs(r) > TOL]
        assert not bad, f"order-{p} conditions fail: {bad[:3]}"


def test_order_is_not_higher_than_claimed(rk_cls):
    # The claimed order is sharp: some condition of order `order + 1` fails.
    tab = rk_cls.tableau
    assert not satisfied(np.array(tab.b), full_matrix(tab), tab.order + 1)


def test_low_order_conditions_written_out(rk_cls):
    """The textbook conditions up to order 4 (and 5 for orders ≥ 5), spelled out."""
    tab = rk_cls.tableau
    A = full_matrix(tab)[: tab.stages, : tab.stages]
    b, c = np.array(tab.b), np.array(tab.c)
    Ac = A @ c
    conditions = {
        1: [(b.sum(), 1)],
        2: [(b @ c, 1 / 2)],
        3: [(b @ c**2, 1 / 3), (b @ Ac, 1 / 6)],
        4: [(b @ c**3, 1 / 4), (b @ (c * Ac), 1 / 8), (b @ A @ c**2, 1 / 12), (b @ A @ Ac, 1 / 24)],
        5: [
            (b @ c**4, 1 / 5),
            (b @ (c**2 * Ac), 1 / 10),
            (b @ Ac**2, 1 / 20),
            (b @ (c * (A @ c**2)), 1 / 15),
            (b @ (c * (A @ Ac)), 1 / 30),
            (b @ A @ c**3, 1 / 20),
            (b @ A @ (c * Ac), 1 / 40),
            (b @ A @ A @ c**2, 1 / 60),
            (b @ A @ A @ Ac, 1 / 120),
        ],
    }
    for p in range(1, min(tab.order, 5) + 1):
        for got, want in conditions[p]:
            assert got == pytest.approx(want, abs=TOL), f"order {p}"


def test_embedded_solution_order(rk_cls):
    """The embedded solution `b - b_err` has order `error_order`, and the estimate is not zero.

    With a second estimate `b_err_low` (DOP853), the combined error
    `e² / sqrt(e² + 0.01 e_low²)` behaves as `h^(2(p+1) - (p_low+1))`, which must be the
    local error of a method of order `error_order`.
    """
    tab = rk_cls.tableau
    if not tab.adaptive:
        pytest.skip("no error estimate")
    A = full_matrix(tab)
    embedded = np.array(tab.b) - np.array(tab.b_err)
    p = highest_order(embedded, A)
    assert p >= min(tab.error_order, 4)
    assert p < tab.order, "the error estimate vanishes to the order of the method"
    if tab.b_err_low is None:
        assert p == tab.error_order
    else:
        p_low = highest_order(np.array(tab.b) - np.array(tab.b_err_low), A)
        assert p_low < p
        assert 2 * (p + 1) - (p_low + 1) == tab.error_order + 1


@pytest.mark.parametrize("theta", [0.1, 0.25, 0.5, 0.7, 0.9, 1.0])
def test_dense_output_order_conditions(rk_cls, theta):
    tab = rk_cls.tableau
    if tab.dense is None:
        pytest.skip("no dense output")
    A = full_matrix(tab)
    w = dense_weights(tab, theta)
    for q in range(1, dense_order(tab) + 1):
        bad = [(t, r) for t, r in residuals(w, A, q, theta) if abs(r) > TOL]
        assert not bad, f"dense order-{q} conditions fail at θ = {theta}: {bad[:3]}"


def test_extra_stages_only_with_dense_output(rk_cls):
    tab = rk_cls.tableau
    assert len(tab.a_extra) == len(tab.c_extra)
    if tab.a_extra:
        assert tab.dense is not None
        for i, row in enumerate(tab.a_extra):
            assert len(row) == tab.stages + i


# ---------------------------------------------------------------- broken tableaux

# Bogacki–Shampine 3(2): FSAL, embedded order 2, cubic Hermite dense output.
BS3 = {
    "a": ((), (1 / 2,), (0.0, 3 / 4), (2 / 9, 1 / 3, 4 / 9)),
    "b": (2 / 9, 1 / 3, 4 / 9, 0.0),
    "c": (0.0, 1 / 2, 3 / 4, 1.0),
    "order": 3,
    "b_err": (2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8),
    "error_order": 2,
    "fsal": True,
    "dense": (
        (1.0, 3 * 2 / 9 - 2, 1 - 2 * 2 / 9),
        (0.0, 3 * 1 / 3, -2 * 1 / 3),
        (0.0, 3 * 4 / 9, -2 * 4 / 9),
        (0.0, -1.0, 1.0),
    ),
}


def _with(**changes):
    return {**BS3, **changes}


def test_valid_tableau_builds_and_has_its_orders():
    tab = ButcherTableau(**BS3)
    A = full_matrix(tab)
    assert tab.stages == 4 and tab.adaptive
    assert highest_order(np.array(tab.b), A) == 3
    assert highest_order(np.array(tab.b) - np.array(tab.b_err), A) == 2
    assert all(satisfied(dense_weights(tab, th), A, 3, th) for th in (0.3, 0.6))


BROKEN = {
    "row_sum": (_with(a=((), (1 / 2,), (0.1, 3 / 4), BS3["a"][3])), "row 2 sums"),
    "sum_b": (
        _with(b=(0.3, 1 / 3, 4 / 9, 0.0), fsal=False, dense=None),
        "`b` sum to",
    ),
    "sum_b_err": (_with(b_err=(0.1, 0.0, 0.0, 0.0)), "`b_err` must have 4 entries"),
    "b_err_length": (_with(b_err=(0.1, -0.1)), "`b_err` must have 4 entries"),
    "b_err_low": (_with(b_err_low=(0.1, 0.0, 0.0, 0.0)), "`b_err_low`"),
    "error_order_missing": (_with(error_order=None), "needs `error_order`"),
    "fsal_last_row": (
        _with(a=((), (1 / 2,), (0.0, 3 / 4), (1 / 3, 2 / 9, 4 / 9))),
        "FSAL",
    ),
    "fsal_b_last": (
        _with(fsal=True, b=(2 / 9, 1 / 3, 3 / 9, 1 / 9), b_err=None, dense=None),
        "FSAL",
    ),
    "dense_at_one": (
        _with(dense=(*BS3["dense"][:3], (0.0, -1.0, 1.1))),
        "Dense output row 3",
    ),
    "dense_rows": (_with(dense=BS3["dense"][:3]), "must have 4 rows"),
    "dense_linear": (
        _with(dense=((0.9, 3 * 2 / 9 - 2 + 0.1, 1 - 2 * 2 / 9), *BS3["dense"][1:])),
        "consistent",
    ),
    "implicit": (_with(a=((), (1 / 2, 0.0), (0.0, 3 / 4), BS3["a"][3])), "explicit"),
    "c0": (_with(c=(0.1, 1 / 2, 3 / 4, 1.0)), "explicit"),
    "lengths": (_with(c=(0.0, 1 / 2, 1.0)), "4 weights but 3 nodes"),
    "extra_row_sum": (
        _with(
            a_extra=((0.1, 0.1, 0.1, 0.1),),
            c_extra=(0.5,),
            dense=(*BS3["dense"], (0.0, 0.0, 0.0)),
        ),
        "row 4 sums",
    ),
}


@pytest.mark.parametrize(("kwargs", "match"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_tableau_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ButcherTableau(**kwargs)


def test_perturbed_registry_tableaux_raise(rk_cls):
    tab = rk_cls.tableau
    b = (tab.b[0] + 1e-6, *tab.b[1:])
    with pytest.raises(ValueError):
        dataclasses.replace(tab, b=b)
    if tab.stages > 1:
        a = (*tab.a[:-1], (tab.a[-1][0] + 1e-6, *tab.a[-1][1:]))
        with pytest.raises(ValueError):
            dataclasses.replace(tab, a=a)
    if tab.adaptive:
        b_err = (tab.b_err[0] + 1e-6, *tab.b_err[1:])
        with pytest.raises(ValueError, match="b_err"):
            dataclasses.replace(tab, b_err=b_err)
    if tab.dense is not None:
        row = (*tab.dense[-1][:-1], tab.dense[-1][-1] + 1e-6)
        with pytest.raises(ValueError, match="Dense"):
            dataclasses.replace(tab, dense=(*tab.dense[:-1], row))
