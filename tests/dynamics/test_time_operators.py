import math

import numpy as np
import pytest
import qutip
import torch
from torch.autograd import gradcheck

from dynamics.time_operators import (
    CallableOperator,
    ConstantOperator,
    ModulatedOperator,
    PWCOperator,
    SumOperator,
    TimeOperator,
    as_time_operator,
    constant,
    modulated,
    pwc,
    timecallable,
)

C128 = torch.complex128
SX = torch.tensor([[0, 1], [1, 0]], dtype=C128)
SZ = torch.tensor([[1, 0], [0, -1]], dtype=C128)
TIMES = [0.0, 1.0, 2.0, 3.0]
VALUES = [1.0, -2.0, 0.5]


class Cosine(torch.nn.Module):
    """f(t) = a cos(w t), with trainable a and w."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(0.7, dtype=torch.float64))
        self.w = torch.nn.Parameter(torch.tensor(1.3, dtype=torch.float64))

    def forward(self, t):
        return self.a * torch.cos(self.w * t)


def make(kind: str) -> TimeOperator:
    """One operator of each kind, all equal to `expected(kind, t)`."""
    return {
        "constant": lambda: constant(SZ),
        "pwc": lambda: pwc(TIMES, VALUES, SX),
        "modulated": lambda: modulated(torch.cos, SX),
        "callable": lambda: timecallable(lambda t: t * SZ),
        "sum": lambda: constant(SZ) + pwc(TIMES, VALUES, SX) + modulated(torch.sin, SZ),
    }[kind]()


def expected(kind: str, t: float) -> torch.Tensor:
    k = math.floor(t)
    v = VALUES[k] if 0 <= k < len(VALUES) else 0.0
    return {
        "constant": SZ,
        "pwc": v * SX,
        "modulated": math.cos(t) * SX,
        "callable": t * SZ,
        "sum": SZ + v * SX + math.sin(t) * SZ,
    }[kind]


KINDS = ["constant", "pwc", "modulated", "callable", "sum"]
CLASSES = {
    "constant": ConstantOperator,
    "pwc": PWCOperator,
    "modulated": ModulatedOperator,
    "callable": CallableOperator,
    "sum": SumOperator,
}


# ----------------------------------------------------------------------------- evaluation


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("t", [-0.5, 0.0, 0.3, 1.0, 2.5, 3.0, 4.0])
def test_evaluation(kind, t):
    H = make(kind)
    assert isinstance(H, CLASSES[kind])
    torch.testing.assert_close(H(t), expected(kind, t))
    torch.testing.assert_close(H(torch.tensor(t)), expected(kind, t))


@pytest.mark.parametrize(
    ("t", "value"),
    [(-1e-12, 0.0), (0.0, 1.0), (1.0 - 1e-12, 1.0), (1.0, -2.0), (2.0, 0.5), (3.0, 0.0)],
)
def test_pwc_is_right_continuous_and_zero_outside(t, value):
    torch.testing.assert_close(pwc(TIMES, VALUES, SX)(t), value * SX)


@pytest.mark.parametrize(
    "O", [SX, SX.numpy(), SX.tolist(), qutip.sigmax()], ids=["tensor", "numpy", "list", "qobj"]
)
def test_constant_accepts_tensor_likes(O):
    H = constant(O)
    torch.testing.assert_close(H(0.0), SX)
    assert H.dtype == C128


@pytest.mark.parametrize(
    ("kind", "is_constant", "is_pwc", "discontinuities"),
    [
        ("constant", True, True, ()),
        ("pwc", False, True, tuple(TIMES)),
        ("modulated", False, False, ()),
        ("callable", False, False, ()),
        ("sum", False, False, tuple(TIMES)),
    ],
)
def test_flags_and_discontinuities(kind, is_constant, is_pwc, discontinuities):
    H = make(kind)
    assert H.is_constant is is_constant
    assert H.is_piecewise_constant is is_pwc
    assert H.discontinuities == discontinuities
    assert H.shape == (2, 2)
    assert H(0.5).shape == H.shape


def test_repr():
    assert repr(constant(SX)) == "ConstantOperator(shape=(2, 2), dtype=complex128)"
    assert repr(pwc(TIMES, [VALUES] * 4, SX)) == "PWCOperator(shape=(4, 2, 2), dtype=complex128)"


def test_as_time_operator():
    H = pwc(TIMES, VALUES, SX)
    assert as_time_operator(H, "H") is H
    assert isinstance(as_time_operator(SX.numpy(), "H"), ConstantOperator)


# ----------------------------------------------------------------------------- batching


@pytest.mark.parametrize(
    ("values_shape", "O_shape", "shape"),
    [((3,), (2, 2), (2, 2)), ((5, 3), (2, 2), (5, 2, 2)), ((5, 1, 3), (4, 2, 2), (5, 4, 2, 2))],
)
def test_pwc_batched(values_shape, O_shape, shape):
    values = torch.randn(values_shape, dtype=torch.float64)
    O = torch.randn(O_shape, dtype=C128)
    H = pwc(TIMES, values, O)
    assert H.shape == shape
    torch.testing.assert_close(H(1.5), values[..., 1, None, None] * O)
    assert H(10.0).shape == shape


def test_modulated_batched():
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    H = modulated(lambda t: torch.cos(w * t), SX)
    assert H.shape == (3, 2, 2)
    torch.testing.assert_close(H(0.4), torch.cos(w * 0.4)[:, None, None] * SX)
    H = modulated(lambda t: torch.cos(w * t), torch.stack([SX, SZ])[:, None])
    assert H.shape == (2, 3, 2, 2)


def test_modulated_receives_real_time_tensor():
    seen = []
    H = modulated(lambda t: seen.append(t) or 1.0, SX)
    H(0.5)
    H.to(dtype=torch.complex64)(0.5)
    assert [(t.dtype, t.ndim) for t in seen] == [(torch.float64, 0)] * 2 + [(torch.float32, 0)]


def test_timecallable_batched():
    H = timecallable(lambda t: torch.stack([SX, t * SZ, SZ]))
    assert H.shape == (3, 2, 2)
    torch.testing.assert_close(H(2.0)[1], 2 * SZ)


# ----------------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(
    ("a", "b", "cls"),
    [
        ("constant", "constant", ConstantOperator),
        ("constant", "pwc", SumOperator),
        ("pwc", "pwc", SumOperator),
        ("modulated", "callable", SumOperator),
        ("sum", "constant", SumOperator),
        ("sum", "sum", SumOperator),
    ],
)
def test_sum_kind_and_value(a, b, cls):
    H = make(a) + make(b)
    assert type(H) is cls
    for t in (0.2, 1.0, 2.7, 5.0):
        torch.testing.assert_close(H(t), expected(a, t) + expected(b, t))


def test_sum_flattens_and_folds_constants():
    H = (constant(SX) + pwc(TIMES, VALUES, SX)) + (constant(SZ) + modulated(torch.cos, SZ))
    kinds = [type(p) for p in H.parts]
    assert kinds == [ConstantOperator, PWCOperator, ModulatedOperator]
    torch.testing.assert_close(H.parts[0](0.0), SX + SZ)


def test_sum_discontinuities_union():
    H = pwc([0.0, 1.0, 2.0], [1, 2], SX) + pwc([1.0, 1.5, 3.0], [1, 2], SZ)
    H = H + modulated(torch.cos, SX, discontinuities=[2.0, 0.5, 0.5])
    assert H.discontinuities == (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


@pytest.mark.parametrize(
    "other", [SZ, SZ.numpy(), SZ.tolist(), qutip.sigmaz()], ids=["tensor", "numpy", "list", "qobj"]
)
def test_add_tensor_likes(other):
    H = pwc(TIMES, VALUES, SX)
    for S in (H + other, H - (-1) * constant(other)):
        torch.testing.assert_close(S(0.5), SX + SZ)
    torch.testing.assert_close((H - other)(0.5), SX - SZ)
    if not isinstance(other, qutip.Qobj):  # Qobj.__add__ does not defer
        torch.testing.assert_close((other + H)(0.5), SX + SZ)
        torch.testing.assert_close((other - H)(0.5), SZ - SX)


def test_python_sum():
    H = sum([constant(SX), pwc(TIMES, VALUES, SZ)])
    torch.testing.assert_close(H(0.5), SX + SZ)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("c", [2.0, -1.5j, torch.tensor(3.0), np.float64(0.5)])
def test_scaling_keeps_kind(kind, c):
    H = make(kind)
    c_ = complex(c)
    for S in (c * H, H * c, H / (1 / c_)):
        assert type(S) is type(H)
        torch.testing.assert_close(S(1.5), c_ * expected(kind, 1.5))
    torch.testing.assert_close((-H)(1.5), -expected(kind, 1.5))
    torch.testing.assert_close((H - H)(1.5), torch.zeros(2, 2, dtype=C128))


@pytest.mark.parametrize("kind", KINDS)
def test_scaling_by_batch_tensor(kind):
    c = torch.tensor([1.0, 2.0, 3.0])
    S = make(kind) * c
    assert S.shape == (3, 2, 2)
    assert S.dtype == C128
    torch.testing.assert_close(S(0.5), c[:, None, None] * expected(kind, 0.5))


# ----------------------------------------------------------------------------- conversion


@pytest.mark.parametrize("kind", KINDS)
def test_to_complex64(kind):
    H = make(kind).to(dtype=torch.complex64)
    assert H.dtype == torch.complex64
    assert H(1.5).dtype == torch.complex64
    torch.testing.assert_close(H(1.5), expected(kind, 1.5).to(torch.complex64))
    assert make(kind).to(dtype=torch.float32).dtype == torch.complex64
    assert make(kind).to(device="cpu").device == torch.device("cpu")


def test_to_converts_pwc_times():
    H = pwc(TIMES, VALUES, SX).to(dtype=torch.complex64)
    assert H.times.dtype == torch.float32
    assert H.values.dtype == torch.complex64


def test_tensors():
    values = torch.tensor(VALUES, requires_grad=True)
    f = Cosine()
    H = constant(SZ) + pwc(TIMES, values, SX) + modulated(f, SX)
    found = {id(x) for x in H.tensors()}
    assert {id(f.a), id(f.w)} <= found
    assert any(x.requires_grad and x.shape == (3,) for x in H.tensors())
    assert timecallable(lambda t: SX).tensors() == []


# ----------------------------------------------------------------------------- gradients


def test_gradcheck_pwc_values_and_operator():
    values = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    cvalues = torch.randn(3, dtype=C128, requires_grad=True)
    O = torch.randn(2, 2, dtype=C128, requires_grad=True)

    def fn(values, cvalues, O):
        H = pwc(TIMES, values, O) + pwc(TIMES, cvalues, SZ) + constant(O)
        return torch.stack([H(t) for t in (0.5, 1.0, 2.9)])

    assert gradcheck(fn, (values, cvalues, O))


def test_gradcheck_modulated_captured_tensor_and_scale():
    w = torch.tensor([0.3, 1.1], dtype=torch.float64, requires_grad=True)
    O = torch.randn(2, 2, dtype=C128, requires_grad=True)
    c = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)

    def fn(w, O, c):
        H = c * modulated(lambda t: torch.sin(w * t), O) + timecallable(lambda t: w[0] * t * O)
        return H(0.7)

    assert gradcheck(fn, (w, O, c))


def test_module_parameter_gradients():
    f = Cosine()
    H = modulated(f, SX)
    t = 0.9
    H(t)[0, 1].real.backward()
    torch.testing.assert_close(f.a.grad, torch.cos(f.w * t).detach())
    torch.testing.assert_close(f.w.grad, (-f.a * t * torch.sin(f.w * t)).detach())

    a = f.a.detach().clone().requires_grad_()
    w = f.w.detach().clone().requires_grad_()

    def fn(a, w):
        g = lambda t: torch.func.functional_call(f, {"a": a, "w": w}, (t,))  # noqa: E731
        return modulated(g, SX)(t)

    assert gradcheck(fn, (a, w))


# ----------------------------------------------------------------------------- errors


def _bad_inputs():
    return [
        (
            lambda: constant(torch.zeros(3, 4)),
            ValueError,
            r"`O` must have shape \(\.\.\., n, n\), but has shape \(3, 4\)",
        ),
        (lambda: constant(torch.zeros(3)), ValueError, r"`O` must have shape"),
        (lambda: constant([[math.nan, 0], [0, 0]]), ValueError, "`O` must contain only finite"),
        (
            lambda: as_time_operator(torch.zeros(3, 4), "H"),
            ValueError,
            r"Argument `H` must have shape \(\.\.\., n, n\), but has shape \(3, 4\)\.",
        ),
        (
            lambda: as_time_operator([[math.inf, 0], [0, 0]], "H"),
            ValueError,
            r"Argument `H` must contain only finite values\.",
        ),
        (lambda: as_time_operator("abc", "jump_ops"), TypeError, "`jump_ops`"),
        (
            lambda: pwc([0.0, 1.0], [1.0, 2.0], SX),
            ValueError,
            r"`values` .* \(2,\) and `times` has shape \(2,\)",
        ),
        (lambda: pwc([[0.0, 1.0]], [1.0], SX), ValueError, "`times` must be 1-D"),
        (lambda: pwc([0.0], [], SX), ValueError, "`times` must be 1-D"),
        (
            lambda: pwc([0.0, 2.0, 1.0], [1.0, 2.0], SX),
            ValueError,
            "`times` must be strictly increasing",
        ),
        (
            lambda: pwc([0.0, 1.0, 1.0], [1.0, 2.0], SX),
            ValueError,
            "`times` must be strictly increasing",
        ),
        (lambda: pwc([0.0, math.inf], [1.0], SX), ValueError, "`times` must contain only finite"),
        (lambda: pwc([0.0, 1.0], [math.nan], SX), ValueError, "`values` must contain only finite"),
        (
            lambda: pwc([0.0, 1.0], torch.ones(3, 1), torch.stack([SX] * 2)),
            ValueError,
            r"`values` and `O` .* \(3, 1\) and \(2, 2, 2\)",
        ),
        (lambda: pwc([0.0, 1.0], [1.0], torch.zeros(2, 3)), ValueError, "`O` must have shape"),
        (
            lambda: modulated(3.0, SX),
            TypeError,
            "Argument `f` must be callable, but is of type float",
        ),
        (
            lambda: modulated(lambda t: torch.ones(3), torch.stack([SX] * 2)),
            ValueError,
            r"`f` .* batch shape \(2,\) of `O`, but returned shape \(3,\)",
        ),
        (lambda: modulated(torch.cos, [[1.0, 2.0]]), ValueError, "`O` must have shape"),
        (
            lambda: modulated(torch.cos, SX, discontinuities=[math.nan]),
            ValueError,
            "`discontinuities` must contain only finite",
        ),
        (lambda: modulated(torch.cos, SX, discontinuities=3.0), TypeError, "`discontinuities`"),
        (lambda: timecallable(SX), TypeError, "Argument `f` must be callable"),
        (
            lambda: timecallable(lambda t: torch.zeros(3, 4)),
            ValueError,
            r"`f` must return a tensor of shape \(\.\.\., n, n\), but returned shape \(3, 4\)",
        ),
        (lambda: timecallable(lambda t: SX / 0), ValueError, "`f` must contain only finite"),
        (
            lambda: constant(SX) + constant(torch.eye(3)),
            ValueError,
            r"shapes \(2, 2\) and \(3, 3\)",
        ),
        (
            lambda: pwc(TIMES, VALUES, SX) + torch.eye(3),
            ValueError,
            r"shapes \(2, 2\) and \(3, 3\)",
        ),
        (
            lambda: constant(torch.stack([SX] * 2)) + modulated(torch.cos, torch.stack([SX] * 3)),
            ValueError,
            r"\(2, 2, 2\) and \(3, 2, 2\).* batch shapes",
        ),
        (
            lambda: pwc(TIMES, VALUES, SX) + torch.ones(2, 3),
            ValueError,
            r"Argument `other` must have shape",
        ),
        (
            lambda: constant(torch.stack([SX] * 2)) * torch.ones(3),
            ValueError,
            r"shape \(2, 2, 2\) by a tensor of shape \(3,\)",
        ),
        (lambda: constant(SX) + "H", TypeError, "unsupported operand"),
        (lambda: constant(SX) * constant(SX), TypeError, "unsupported operand"),
        (lambda: constant(SX) + 1.0, TypeError, "unsupported operand"),
    ]


@pytest.mark.parametrize(("build", "error", "match"), _bad_inputs())
def test_bad_inputs(build, error, match):
    with pytest.raises(error, match=match):
        build()


# --------------------------------------------------------------- at_times: one stack per time list


def _at_times_cases():
    batched = torch.stack([SX, 2 * SZ, SX + SZ])  # (3, 2, 2)
    values = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.2, 0.1]], dtype=torch.float64)  # (2, 3)
    return {
        "constant": constant(SX),
        "constant-batched": constant(batched),
        "pwc": pwc(TIMES, VALUES, SX),
        "pwc-batched-values": pwc(TIMES, values[:, None], batched),  # (2, 3, 2, 2)
        "modulated": modulated(lambda t: torch.cos(t), SZ),
        "callable": timecallable(lambda t: t * SX + SZ),
        "sum-mixed-batch": constant(batched)
        + pwc(TIMES, values[:, None], SX)
        + 2 * pwc(TIMES, VALUES, SZ),
    }


@pytest.mark.parametrize("name", list(_at_times_cases()))
def test_at_times_equals_stacked_calls(name):
    H = _at_times_cases()[name]
    ts = [-0.5, 0.0, 0.25, 1.0, 1.5, 2.999, 3.0, 4.0]  # outside, on and between knots
    stacked = H.at_times(ts)
    assert stacked.shape == (len(ts), *H.shape)
    expected = torch.stack([H(t).expand(H.shape) for t in ts])
    torch.testing.assert_close(stacked, expected, rtol=0, atol=0)


def test_at_times_carries_the_gradient_of_pwc_values():
    values = torch.tensor(VALUES, dtype=torch.float64, requires_grad=True)
    H = pwc(TIMES, values, SX) + constant(SZ)
    H.at_times([0.5, 1.5, 2.5, 0.7]).real.sum().backward()
    # each slice value enters through the two off-diagonal entries, slice 0 twice
    torch.testing.assert_close(values.grad, torch.tensor([4.0, 2.0, 2.0], dtype=torch.float64))
