import math

import numpy as np
import pytest
import qutip
import torch

from dynamics.linalg import (
    dag,
    entropy_vn,
    expect,
    fidelity,
    norm,
    ptrace,
    purity,
    tensor,
    trace,
    unit,
)
from dynamics.states import fock, fock_dm, ket2dm

ATOL = 1e-10


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def t(q: qutip.Qobj) -> torch.Tensor:
    return torch.as_tensor(q.full())


def close(x, expected) -> None:
    if isinstance(x, torch.Tensor):
        x = x.detach().resolve_conj().numpy()
    np.testing.assert_allclose(x, np.asarray(expected), atol=ATOL, rtol=0)


def rand_dm(n, seed, batch=()):
    dms = [t(qutip.rand_dm(n, seed=seed + i)) for i in range(math.prod(batch))]
    return torch.stack(dms).reshape(*batch, n, n)


def rand_ket(n, seed, batch=()):
    kets = [t(qutip.rand_ket(n, seed=seed + i)) for i in range(math.prod(batch))]
    return torch.stack(kets).reshape(*batch, n, 1)


def full_rank_dm(A: torch.Tensor) -> torch.Tensor:
    rho = A @ A.mH
    return rho / rho.diagonal(dim1=-2, dim2=-1).sum(-1)[..., None, None]


# ----------------------------------------------------------------------------- tensor, dag, trace


@pytest.mark.parametrize(
    "objs",
    [
        [qutip.sigmax(), qutip.destroy(3)],
        [qutip.rand_ket(2, seed=1), qutip.rand_ket(3, seed=2), qutip.rand_ket(2, seed=3)],
        [qutip.rand_ket(2, seed=1).dag(), qutip.rand_ket(3, seed=2).dag()],
        [qutip.rand_ket(2, seed=1), qutip.sigmay()],
        [qutip.rand_dm(4, seed=4)],
    ],
    ids=["opers", "kets", "bras", "mixed", "single"],
)
def test_tensor_matches_qutip(objs):
    close(tensor(*objs), qutip.tensor(*objs).full())


def test_tensor_broadcasts():
    a = rand_dm(2, 0, (2, 1))
    b = rand_dm(3, 10, (4,))
    out = tensor(a, b, t(qutip.sigmaz()))
    assert out.shape == (2, 4, 12, 12)
    close(out[1, 3], torch.kron(torch.kron(a[1, 0], b[3]), t(qutip.sigmaz())))


def test_tensor_promotes_dtype():
    out = tensor(fock(2, 0, dtype=torch.complex64), fock(2, 1))
    assert out.dtype == torch.complex128


def test_dag_and_trace():
    x = rand_dm(3, 0, (2,)) + 1j * rand_dm(3, 5, (2,))
    close(dag(x), x.conj().transpose(-1, -2).resolve_conj())
    assert dag(fock(3, 1)).shape == (1, 3)
    op = qutip.rand_unitary(4, seed=3)
    close(trace(op.full()), op.tr())
    assert trace(rand_dm(3, 0, (2, 5))).shape == (2, 5)


# ----------------------------------------------------------------------------- expect


@pytest.mark.parametrize(
    "O", [qutip.num(5), qutip.destroy(5), qutip.rand_herm(5, seed=3)], ids=["N", "a", "H"]
)
@pytest.mark.parametrize(
    "x", [qutip.rand_ket(5, seed=1), qutip.rand_dm(5, seed=2)], ids=["ket", "dm"]
)
def test_expect_matches_qutip(O, x):
    out = expect(O, x)
    assert out.dtype == torch.complex128 and out.shape == ()
    close(out, complex(qutip.expect(O, x)))


@pytest.mark.parametrize("kind", ["ket", "dm"])
def test_expect_broadcasts(kind):
    O = torch.stack([t(qutip.num(4)), t(qutip.destroy(4)), t(qutip.qeye(4))])[:, None]
    x = rand_ket(4, 0, (2,)) if kind == "ket" else rand_dm(4, 0, (2,))
    out = expect(O, x)
    assert out.shape == (3, 2)
    for i, j in np.ndindex(3, 2):
        close(out[i, j], complex(qutip.expect(qutip.Qobj(O[i, 0].numpy()), qutip.Qobj(x[j]))))


def test_expect_dtype_promotion():
    out = expect(t(qutip.num(3)).to(torch.complex64), fock(3, 2))
    assert out.dtype == torch.complex128
    close(out, 2.0)


@pytest.mark.parametrize("kind", ["ket", "dm"])
def test_expect_gradcheck(kind):
    O = torch.randn(2, 3, 3, dtype=torch.complex128, requires_grad=True)
    shape = (3, 1) if kind == "ket" else (3, 3)
    x = torch.randn(*shape, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(expect, (O, x))


# ----------------------------------------------------------------------------- ptrace

DIMS = [2, 3, 2]


@pytest.mark.parametrize("keep", [0, 1, 2, [0, 2], [2, 0], (1, 2), [0, 1, 2], [1]])
@pytest.mark.parametrize("kind", ["ket", "dm"])
def test_ptrace_matches_qutip(keep, kind):
    q = qutip.rand_ket(DIMS, seed=7) if kind == "ket" else qutip.rand_dm(DIMS, seed=7)
    out = ptrace(q, keep, DIMS)
    close(out, q.ptrace(keep).full())


@pytest.mark.parametrize("kind", ["ket", "dm"])
def test_ptrace_batched(kind):
    x = rand_ket(6, 0, (2, 3)) if kind == "ket" else rand_dm(6, 0, (2, 3))
    out = ptrace(x, 1, (2, 3))
    assert out.shape == (2, 3, 3, 3)
    for idx in np.ndindex(2, 3):
        close(
            out[idx],
            qutip.Qobj(x[idx].numpy(), dims=[[2, 3], [1, 1] if kind == "ket" else [2, 3]])
            .ptrace(1)
            .full(),
        )


def test_ptrace_gradcheck():
    rho = torch.randn(4, 4, dtype=torch.complex128, requires_grad=True)
    psi = torch.randn(4, 1, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: ptrace(x, 0, (2, 2)), (rho,))
    assert torch.autograd.gradcheck(lambda x: ptrace(x, [1], (2, 2)), (psi,))


# ----------------------------------------------------------------------------- norm, unit


@pytest.mark.parametrize(
    "q",
    [
        2.5 * qutip.rand_ket(6, seed=1),
        0.3 * qutip.rand_dm(6, seed=2),
        qutip.rand_herm(4, seed=3),
        qutip.Qobj(np.arange(9).reshape(3, 3) + 1j),
    ],
    ids=["ket", "dm", "herm", "general"],
)
def test_norm_unit_match_qutip(q):
    assert norm(q).dtype == torch.float64
    close(norm(q), q.norm())
    close(unit(q), q.unit().full())


def test_norm_batched():
    x = 2 * rand_ket(3, 0, (4, 2))
    close(norm(x), 2 * torch.ones(4, 2))
    close(norm(unit(x)), torch.ones(4, 2))


# ----------------------------------------------------------------------------- fidelity

STATES = {
    "ket": lambda s: qutip.rand_ket(5, seed=s),
    "dm": lambda s: qutip.rand_dm(5, seed=s),
    "pure-dm": lambda s: qutip.ket2dm(qutip.rand_ket(5, seed=s)),
}


def exact_fidelity(x: qutip.Qobj, y: qutip.Qobj) -> float:
    """|<psi|phi>|^2 or <psi|rho|psi> for pure x (ket or projector), from the ket itself."""
    psi = x if x.isket else qutip.Qobj(np.linalg.eigh(x.full())[1][:, -1:])
    return (psi.dag() * (y if y.isoper else qutip.ket2dm(y)) * psi).real


@pytest.mark.parametrize(("kx", "ky"), [("ket", "ket"), ("dm", "dm")])
def test_fidelity_matches_qutip(kx, ky):
    x, y = STATES[kx](1), STATES[ky](2)
    out = fidelity(x, y)
    assert out.dtype == torch.float64 and out.shape == ()
    close(out, qutip.fidelity(x, y) ** 2)


@pytest.mark.parametrize("kx", ["ket", "pure-dm"])
@pytest.mark.parametrize("ky", STATES)
@pytest.mark.parametrize("swap", [False, True])
def test_fidelity_pure_states(kx, ky, swap):
    # Against the exact value to 1e-10. qutip.fidelity takes square roots of the
    # rounding noise (~1e-17) of zero eigenvalues and is only accurate to ~1e-8 here;
    # we cut such eigenvalues off.
    x, y = STATES[kx](1), STATES[ky](2)
    out = fidelity(y, x) if swap else fidelity(x, y)
    close(out, exact_fidelity(x, y))
    np.testing.assert_allclose(out, qutip.fidelity(x, y) ** 2, atol=1e-7)


def test_fidelity_self_and_orthogonal():
    rho = rand_dm(4, 0)
    close(fidelity(rho, rho), 1.0)
    close(fidelity(fock(3, 0), fock_dm(3, 1)), 0.0)


def test_fidelity_broadcasts():
    x, y = rand_dm(3, 0, (2, 1)), rand_ket(3, 10, (4,))
    out = fidelity(x, y)
    assert out.shape == (2, 4)
    for i, j in np.ndindex(2, 4):
        close(out[i, j], (y[j].mH @ x[i, 0] @ y[j]).real.item())


@pytest.mark.parametrize(("kx", "ky"), [("ket", "ket"), ("ket", "dm"), ("dm", "dm")])
def test_fidelity_gradcheck(kx, ky):
    def state(kind, A):
        return A / torch.linalg.vector_norm(A) if kind == "ket" else full_rank_dm(A)

    A = torch.randn(3, 1 if kx == "ket" else 3, dtype=torch.complex128, requires_grad=True)
    B = torch.randn(3, 1 if ky == "ket" else 3, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: fidelity(state(kx, a), state(ky, b)), (A, B))


# ----------------------------------------------------------------------------- purity, entropy


@pytest.mark.parametrize(
    "q",
    [qutip.rand_dm(5, seed=1), qutip.maximally_mixed_dm(4), qutip.rand_ket(5, seed=2)],
    ids=["dm", "mixed", "ket"],
)
def test_purity_entropy_match_qutip(q):
    close(purity(q), q.purity())
    close(entropy_vn(q), qutip.entropy_vn(q))
    assert purity(q).dtype == entropy_vn(q).dtype == torch.float64


def test_purity_entropy_batched():
    x = rand_dm(4, 0, (3, 2))
    assert purity(x).shape == entropy_vn(x).shape == (3, 2)
    close(entropy_vn(torch.eye(4, dtype=torch.float64) / 4), math.log(4))
    close(entropy_vn(fock_dm(3, 1)), 0.0)


def test_purity_entropy_gradients():
    A = torch.randn(3, 3, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: purity(full_rank_dm(a)), (A,))
    assert torch.autograd.gradcheck(lambda a: entropy_vn(full_rank_dm(a)), (A,))
    # Zero eigenvalues of a pure state give a finite gradient.
    psi = torch.tensor([[0.6], [0.8j], [0.0]], dtype=torch.complex128, requires_grad=True)
    entropy_vn(ket2dm(psi)).backward()
    assert torch.isfinite(torch.view_as_real(psi.grad)).all()


def test_single_precision():
    x = rand_dm(3, 0).to(torch.complex64)
    assert fidelity(x, x).dtype == purity(x).dtype == entropy_vn(x).dtype == torch.float32
    assert expect(x, x).dtype == torch.complex64 and ptrace(x, 0, (3,)).dtype == torch.complex64


# ----------------------------------------------------------------------------- errors

BAD = torch.zeros(3, 4, dtype=torch.complex128)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: tensor(), ValueError, "`ops`"),
        (lambda: tensor(torch.zeros(2), torch.eye(2)), ValueError, r"`ops\[0\]`"),
        (lambda: tensor(torch.zeros(2, 2, 2), torch.zeros(3, 2, 2)), ValueError, "`ops`"),
        (lambda: dag(torch.zeros(3)), ValueError, "`x`"),
        (lambda: dag("abc"), TypeError, "`x`"),
        (lambda: trace(BAD), ValueError, "`x`"),
        (lambda: expect(BAD, fock(3, 0)), ValueError, "`O`"),
        (lambda: expect(torch.eye(3), BAD), ValueError, r"`x` must have shape \(\.\.\., n, n\)"),
        (lambda: expect(torch.eye(2), fock(3, 0)), ValueError, "`O` and `x`"),
        (lambda: expect(torch.eye(2).expand(3, 2, 2), fock(2, [0, 1])), ValueError, "broadcast"),
        (lambda: ptrace(BAD, 0, (3, 4)), ValueError, "`x`"),
        (lambda: ptrace(fock(6, 0), 0, (2, 2)), ValueError, "`dims`"),
        (lambda: ptrace(fock(6, 0), 2, (2, 3)), ValueError, "`keep`"),
        (lambda: ptrace(fock(6, 0), [0, 0], (2, 3)), ValueError, "`keep`"),
        (lambda: ptrace(fock(6, 0), 0.5, (2, 3)), TypeError, "`keep`"),
        (lambda: ptrace(fock(6, 0), 0, (2, -3)), ValueError, "`dims`"),
        (lambda: norm(BAD), ValueError, "`x`"),
        (lambda: unit(BAD), ValueError, "`x`"),
        (lambda: fidelity(BAD, fock(3, 0)), ValueError, "`x`"),
        (lambda: fidelity(fock(3, 0), BAD), ValueError, "`y`"),
        (lambda: fidelity(fock(3, 0), fock(2, 0)), ValueError, "`x` and `y`"),
        (lambda: purity(BAD), ValueError, "`x`"),
        (lambda: entropy_vn(BAD), ValueError, "`x`"),
        (lambda: entropy_vn([1.0, 0.0]), ValueError, "`x`"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
