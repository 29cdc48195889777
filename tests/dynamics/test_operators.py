import numpy as np
import pytest
import qutip
import torch

from dynamics._config import set_precision
from dynamics.operators import (
    create,
    destroy,
    displace,
    eye,
    number,
    parity,
    sigmam,
    sigmap,
    sigmax,
    sigmay,
    sigmaz,
    squeeze,
)

ATOL = 1e-10


def assert_close_qutip(x: torch.Tensor, q: qutip.Qobj) -> None:
    assert x.dtype == torch.complex128
    np.testing.assert_allclose(x.numpy(), q.full(), atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: destroy(5), lambda: qutip.destroy(5)),
        (lambda: create(5), lambda: qutip.create(5)),
        (lambda: number(5), lambda: qutip.num(5)),
        (lambda: eye(5), lambda: qutip.qeye(5)),
        (lambda: destroy(1), lambda: qutip.Qobj([[0.0]])),
        (sigmax, qutip.sigmax),
        (sigmay, qutip.sigmay),
        (sigmaz, qutip.sigmaz),
        (sigmap, qutip.sigmap),
        (sigmam, qutip.sigmam),
        (lambda: displace(12, 0.7 - 0.4j), lambda: qutip.displace(12, 0.7 - 0.4j)),
        (lambda: displace(30, 2.5), lambda: qutip.displace(30, 2.5)),
        (lambda: squeeze(12, 0.3 + 0.2j), lambda: qutip.squeeze(12, 0.3 + 0.2j)),
        (lambda: squeeze(20, -0.8), lambda: qutip.squeeze(20, -0.8)),
        (lambda: parity(5), lambda: (1j * np.pi * qutip.num(5)).expm()),
    ],
    ids=[
        "destroy",
        "create",
        "number",
        "eye",
        "destroy1",
        "sigmax",
        "sigmay",
        "sigmaz",
        "sigmap",
        "sigmam",
        "displace",
        "displace-large",
        "squeeze",
        "squeeze-real",
        "parity",
    ],
)
def test_matches_qutip(ours, theirs):
    assert_close_qutip(ours(), theirs())


def test_sigma_conventions():
    up, down = (
        torch.tensor([[1.0], [0.0]], dtype=torch.complex128),
        torch.tensor([[0.0], [1.0]], dtype=torch.complex128),
    )
    torch.testing.assert_close(sigmaz() @ up, up)
    torch.testing.assert_close(sigmap() @ down, up)
    torch.testing.assert_close(sigmam() @ up, down)
    torch.testing.assert_close(sigmap(), (sigmax() + 1j * sigmay()) / 2)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(destroy, qutip.destroy), (create, qutip.create), (number, qutip.num)],
    ids=["destroy", "create", "number"],
)
def test_multimode(ours, theirs):
    ops = ours(2, 3, 2)
    assert isinstance(ops, tuple) and len(ops) == 3
    ids = [qutip.qeye(2), qutip.qeye(3), qutip.qeye(2)]
    for i, op in enumerate(ops):
        factors = list(ids)
        factors[i] = theirs([2, 3, 2][i])
        assert_close_qutip(op, qutip.tensor(*factors))


def test_eye_product():
    assert_close_qutip(eye(2, 3), qutip.qeye([2, 3]))


@pytest.mark.parametrize(("fn", "arg"), [(displace, "alpha"), (squeeze, "z")])
def test_batched_parameter(fn, arg):
    values = torch.tensor([[0.1, 0.2j, -0.3], [0.4 + 0.1j, 0.0, 1.0]], dtype=torch.complex128)
    out = fn(6, values)
    assert out.shape == (2, 3, 6, 6)
    qfn = qutip.displace if fn is displace else qutip.squeeze
    for idx in np.ndindex(2, 3):
        assert_close_qutip(out[idx], qfn(6, complex(values[idx])))


def test_parameter_numpy_and_list():
    out = displace(4, np.array([0.1, 0.2]))
    torch.testing.assert_close(out, displace(4, [0.1, 0.2]))
    assert out.shape == (2, 4, 4)


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: destroy(3, **kw),
        lambda **kw: destroy(2, 3, **kw)[1],
        lambda **kw: create(3, **kw),
        lambda **kw: number(3, **kw),
        lambda **kw: eye(3, **kw),
        lambda **kw: sigmax(**kw),
        lambda **kw: sigmay(**kw),
        lambda **kw: sigmaz(**kw),
        lambda **kw: sigmap(**kw),
        lambda **kw: sigmam(**kw),
        lambda **kw: displace(3, 0.2, **kw),
        lambda **kw: squeeze(3, 0.2, **kw),
        lambda **kw: parity(3, **kw),
    ],
)
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_dtype_device(make, dtype):
    out = make(dtype=dtype, device="cpu")
    assert out.dtype == dtype
    assert out.device == torch.device("cpu")
    assert make().dtype == torch.complex128


def test_global_precision():
    set_precision("single")
    try:
        assert destroy(3).dtype == torch.complex64
        assert displace(3, torch.tensor(0.1, dtype=torch.float64)).dtype == torch.complex64
    finally:
        set_precision("double")
    assert destroy(3).dtype == torch.complex128


@pytest.mark.parametrize("fn", [displace, squeeze])
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_gradcheck(fn, dtype):
    x = torch.tensor([0.3, -0.2], dtype=dtype, requires_grad=True)
    if dtype.is_complex:
        x = (x.detach() * (1 + 0.5j)).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: fn(4, v), (x,))


def test_displace_gradient_analytic():
    # <0|D(alpha)^dag N D(alpha)|0> = |alpha|^2 in the large-n limit, d/dalpha = 2 alpha.
    alpha = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    D = displace(30, alpha)
    (D.mH @ number(30) @ D)[0, 0].real.backward()
    assert abs(alpha.grad.item() - 1.0) < 1e-10


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: destroy(0), ValueError, "`dims`"),
        (lambda: destroy(-3), ValueError, "`dims`"),
        (lambda: destroy(2.5), TypeError, "`dims`"),
        (lambda: destroy(), ValueError, "`dims`"),
        (lambda: create(2, -1), ValueError, "`dims`"),
        (lambda: number(True), TypeError, "`dims`"),
        (lambda: eye(0), ValueError, "`dims`"),
        (lambda: displace(-2, 0.1), ValueError, "`n`"),
        (lambda: displace(2.0, 0.1), TypeError, "`n`"),
        (lambda: displace(3, float("nan")), ValueError, "`alpha`"),
        (lambda: displace(3, "abc"), TypeError, "`alpha`"),
        (lambda: squeeze(0, 0.1), ValueError, "`n`"),
        (lambda: squeeze(3, float("inf")), ValueError, "`z`"),
        (lambda: parity(0), ValueError, "`n`"),
        (lambda: sigmax(dtype=torch.int64), TypeError, "`dtype`"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
