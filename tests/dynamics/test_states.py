import numpy as np
import pytest
import qutip
import torch

from dynamics.states import basis, coherent, coherent_dm, fock, fock_dm, ket2dm

ATOL = 1e-10


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def assert_close_qutip(x: torch.Tensor, q: qutip.Qobj) -> None:
    assert x.dtype == torch.complex128
    np.testing.assert_allclose(x.numpy(), q.full(), atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: fock(5, 2), lambda: qutip.basis(5, 2)),
        (lambda: fock(1, 0), lambda: qutip.basis(1, 0)),
        (lambda: basis(4, 3), lambda: qutip.basis(4, 3)),
        (lambda: fock((2, 3), (1, 2)), lambda: qutip.basis([2, 3], [1, 2])),
        (lambda: fock([3, 2, 2], [2, 0, 1]), lambda: qutip.basis([3, 2, 2], [2, 0, 1])),
        (lambda: fock((4,), 2), lambda: qutip.basis(4, 2)),
        (lambda: fock(3, np.int64(1)), lambda: qutip.basis(3, 1)),
        (lambda: fock_dm(5, 2), lambda: qutip.fock_dm(5, 2)),
        (lambda: fock_dm((2, 3), (0, 1)), lambda: qutip.ket2dm(qutip.basis([2, 3], [0, 1]))),
        (lambda: coherent(15, 1.2 - 0.5j), lambda: qutip.coherent(15, 1.2 - 0.5j)),
        (lambda: coherent(6, 2.0), lambda: qutip.coherent(6, 2.0)),
        (lambda: coherent_dm(10, 0.8j), lambda: qutip.coherent_dm(10, 0.8j)),
    ],
    ids=[
        "fock",
        "fock1",
        "basis",
        "fock-product",
        "fock-product3",
        "fock-tuple1",
        "fock-numpy-int",
        "fock_dm",
        "fock_dm-product",
        "coherent",
        "coherent-truncated",
        "coherent_dm",
    ],
)
def test_matches_qutip(ours, theirs):
    assert_close_qutip(ours(), theirs())


@pytest.mark.parametrize(
    ("dims", "k", "shape"),
    [
        (4, [0, 1, 3], (3, 4, 1)),
        (4, torch.tensor([[0, 1], [2, 3]]), (2, 2, 4, 1)),
        ((2, 3), [[0, 1], [1, 2]], (2, 6, 1)),
        ((2, 3), np.array([[[0, 0]], [[1, 1]]]), (2, 1, 6, 1)),
    ],
)
def test_fock_batch(dims, k, shape):
    out = fock(dims, k)
    assert out.shape == shape
    kflat = torch.as_tensor(k).reshape(-1, 1 if isinstance(dims, int) else len(dims))
    for psi, ki in zip(out.reshape(-1, *shape[-2:]), kflat):
        dims_list = [dims] if isinstance(dims, int) else list(dims)
        assert_close_qutip(psi, qutip.basis(dims_list, ki.tolist()))


def test_fock_dm_batch():
    out = fock_dm(3, [0, 2])
    assert out.shape == (2, 3, 3)
    assert_close_qutip(out[1], qutip.fock_dm(3, 2))


@pytest.mark.parametrize("fn", [coherent, coherent_dm])
def test_coherent_batch(fn):
    alpha = torch.tensor([[0.5, 1.0j], [-0.3 + 0.2j, 0.0]], dtype=torch.complex128)
    out = fn(8, alpha)
    shape = (2, 2, 8, 1) if fn is coherent else (2, 2, 8, 8)
    assert out.shape == shape
    qfn = qutip.coherent if fn is coherent else qutip.coherent_dm
    for idx in np.ndindex(2, 2):
        assert_close_qutip(out[idx], qfn(8, complex(alpha[idx])))


def test_ket2dm():
    psis = [qutip.rand_ket(5, seed=s) for s in range(3)]
    out = ket2dm(psis)
    assert out.shape == (3, 5, 5)
    for rho, psi in zip(out, psis):
        assert_close_qutip(rho, qutip.ket2dm(psi))
    assert_close_qutip(ket2dm(psis[0]), qutip.ket2dm(psis[0]))


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: fock(3, 1, **kw),
        lambda **kw: fock((2, 2), [[0, 1], [1, 1]], **kw),
        lambda **kw: basis(3, 1, **kw),
        lambda **kw: fock_dm(3, 1, **kw),
        lambda **kw: coherent(3, 0.5, **kw),
        lambda **kw: coherent_dm(3, 0.5, **kw),
    ],
)
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_dtype_device(make, dtype):
    out = make(dtype=dtype, device="cpu")
    assert out.dtype == dtype
    assert out.device == torch.device("cpu")
    assert make().dtype == torch.complex128


def test_ket2dm_keeps_dtype():
    assert ket2dm(fock(3, 1, dtype=torch.complex64)).dtype == torch.complex64


@pytest.mark.parametrize("fn", [coherent, coherent_dm])
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_gradcheck(fn, dtype):
    alpha = torch.tensor([0.4, -0.7], dtype=torch.float64)
    if dtype.is_complex:
        alpha = alpha * (1 - 0.3j)
    assert torch.autograd.gradcheck(lambda a: fn(5, a), (alpha.requires_grad_(),))


def test_ket2dm_gradcheck():
    psi = torch.randn(2, 3, 1, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(ket2dm, (psi,))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: fock(3, 3), ValueError, "`k`"),
        (lambda: fock(3, -1), ValueError, "`k`"),
        (lambda: fock(3, [0, 5]), ValueError, "`k`"),
        (lambda: fock(3, 1.5), TypeError, "`k`"),
        (lambda: fock(3, "a"), TypeError, "`k`"),
        (lambda: fock(3, True), TypeError, "`k`"),
        (lambda: fock((2, 3), (1,)), ValueError, "`k`"),
        (lambda: fock((2, 3), 1), ValueError, "`k`"),
        (lambda: fock((2, 3), (1, 3)), ValueError, "`k`"),
        (lambda: fock(-2, 0), ValueError, "`dims`"),
        (lambda: fock((2, 0), (0, 0)), ValueError, "`dims`"),
        (lambda: fock("a", 0), TypeError, "`dims`"),
        (lambda: fock((), 0), TypeError, "`dims`"),
        (lambda: basis(2, 2), ValueError, "`k`"),
        (lambda: fock_dm(2, 2), ValueError, "`k`"),
        (lambda: coherent(0, 1.0), ValueError, "`n`"),
        (lambda: coherent(3, float("nan")), ValueError, "`alpha`"),
        (lambda: coherent_dm(3.5, 1.0), TypeError, "`n`"),
        (lambda: ket2dm(torch.zeros(2, 2)), ValueError, "`psi`"),
        (lambda: ket2dm(torch.zeros(3)), ValueError, "`psi`"),
        (lambda: ket2dm("abc"), TypeError, "`psi`"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
