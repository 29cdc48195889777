"""Bad input: every solve function raises a `ValueError`/`TypeError` naming the argument,
before any integration starts.

"Before any integration starts" is checked two ways: the `integrate` method of every
method class of the registry is wrapped to count its calls, and the Hamiltonian of
most cases is a `qd.timecallable` that counts its evaluations after construction.
"""

import dataclasses

import pytest
import torch

import dynamics as qd
from dynamics.equations import Lindblad, Schrodinger

C128 = torch.complex128
N = 3
TSAVE = [0.0, 0.5, 1.0]
NAN = float("nan")
INF = float("inf")


def _fields(cls) -> dict:
    return {f.name: f for f in dataclasses.fields(cls)}


def configured(cls, **kwargs):
    """An instance of `cls`, with a `dt` if the method requires one."""
    dt = _fields(cls).get("dt")
    if dt is not None and dt.default is dataclasses.MISSING and "dt" not in kwargs:
        kwargs["dt"] = 0.01
    return cls(**kwargs)


ALL = qd.method.ALL_METHODS
NOT_SCHRODINGER = [cls for cls in ALL if cls.term_kind not in Schrodinger.kinds]
LINDBLAD = [cls for cls in ALL if cls.term_kind in Lindblad.kinds]


def _ids(classes):
    return [cls.__name__ for cls in classes]


# ----------------------------------------------------------------------------- watchers


class Counter:
    """Counts evaluations of a time-dependent operator and calls of the methods' loops."""

    def __init__(self):
        self.evaluations = 0
        self.loops = 0

    def operator(self, O: torch.Tensor) -> qd.TimeOperator:
        """A `timecallable` returning `O` that counts its evaluations (construction excluded)."""

        def f(t):
            self.evaluations += 1
            return O

        op = qd.timecallable(f)
        self.evaluations = 0
        return op

    def function(self, f):
        """`f`, counting its calls (call `operator` or reset before the solve)."""

        def counted(t):
            self.evaluations += 1
            return f(t)

        return counted

    def assert_untouched(self):
        assert self.loops == 0, "an integration loop started before the error"
        assert self.evaluations == 0, "the Hamiltonian was evaluated before the error"


@pytest.fixture
def counter(monkeypatch):
    """Count every integration started (tests call `counter.assert_untouched()`)."""
    c = Counter()
    patched = set()
    for cls in ALL:
        for klass in cls.__mro__:
            if "integrate" in vars(klass) and klass not in patched:
                patched.add(klass)
                original = vars(klass)["integrate"]

                def wrapper(self, *args, _original=original, **kwargs):
                    c.loops += 1
                    return _original(self, *args, **kwargs)

                monkeypatch.setattr(klass, "integrate", wrapper)
    return c


def test_counter_sees_integrations(counter):
    """The watchers work: a valid call is counted."""
    H = counter.operator(qd.sigmax())
    qd.sesolve(H, qd.basis(2, 0), TSAVE, method=qd.method.RK4(dt=0.1))
    assert counter.loops == 1 and counter.evaluations > 0
    with pytest.raises(AssertionError, match="loop started"):
        counter.assert_untouched()


# ----------------------------------------------------------------------------- inputs


def herm(*batch):
    A = torch.arange(N * N, dtype=torch.float64).reshape(N, N).to(C128) / 10
    return (A + A.mH).expand(*batch, N, N).clone()


def a(*batch):
    return qd.destroy(N).expand(*batch, N, N).clone()


def ket(*batch):
    return qd.basis(N, 0).expand(*batch, N, 1).clone()


def dm(*batch):
    return qd.fock_dm(N, 0).expand(*batch, N, N).clone()


_DEFAULT = object()


def call(solver, c, *, H=_DEFAULT, jump_ops=_DEFAULT, state=_DEFAULT, tsave=_DEFAULT, **kwargs):
    """Call `solver` with valid defaults (a counting H) for every argument not given."""
    H = c.operator(herm()) if H is _DEFAULT else H
    jump_ops = [a()] if jump_ops is _DEFAULT else jump_ops
    tsave = TSAVE if tsave is _DEFAULT else tsave
    if solver == "sesolve":
        return qd.sesolve(H, ket() if state is _DEFAULT else state, tsave, **kwargs)
    if solver == "mesolve":
        return qd.mesolve(H, jump_ops, dm() if state is _DEFAULT else state, tsave, **kwargs)
    if solver == "sepropagator":
        return qd.sepropagator(H, tsave, **kwargs)
    return qd.mepropagator(H, jump_ops, tsave, **kwargs)


SOLVERS = ("sesolve", "mesolve", "sepropagator", "mepropagator")
STATE_SOLVERS = ("sesolve", "mesolve")
JUMP_SOLVERS = ("mesolve", "mepropagator")


def cases(solvers, *specs):
    """Parametrize `(solver, kwargs, exc, match)` over `solvers` for each spec."""
    return [
        pytest.param(solver, kwargs, exc, match, id=f"{solver}-{spec_id}", marks=marks)
        for solver in solvers
        for spec_id, kwargs, exc, match, *marks in specs
    ]


def check(solver, counter, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        call(solver, counter, **kwargs)
    counter.assert_untouched()


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    ("solver", "kwargs", "exc", "match"),
    cases(
        SOLVERS,
        ("H-not-square", {"H": torch.ones(N, 2)}, ValueError, r"`H`"),
        ("H-batch-not-square", {"H": torch.ones(2, N, N + 1)}, ValueError, r"`H`"),
        ("H-0d", {"H": torch.tensor(1.0)}, ValueError, r"`H`"),
        ("H-1d", {"H": torch.ones(N)}, ValueError, r"`H`"),
        ("H-nan", {"H": herm() * NAN}, ValueError, r"`H`"),
        ("H-inf", {"H": herm() + INF}, ValueError, r"`H`"),
        ("H-None", {"H": None}, TypeError, r"`H`"),
        ("H-str", {"H": "sigmax"}, TypeError, r"`H`"),
    )
    + cases(
        JUMP_SOLVERS,
        ("jump-not-square", {"jump_ops": [torch.ones(N, 2)]}, ValueError, r"`jump_ops\[0\]`"),
        ("jump-dim", {"jump_ops": [qd.destroy(2)]}, ValueError, r"`jump_ops\[0\]`"),
        ("jump1-dim", {"jump_ops": [a(), qd.destroy(N + 1)]}, ValueError, r"`jump_ops\[1\]`"),
        ("jump-1d", {"jump_ops": [torch.ones(N)]}, ValueError, r"`jump_ops\[0\]`"),
        ("jump-nan", {"jump_ops": [a() * NAN]}, ValueError, r"`jump_ops\[0\]`"),
        ("jump-inf", {"jump_ops": [a(), a() * INF]}, ValueError, r"`jump_ops\[1\]`"),
        ("jump-str", {"jump_ops": ["a"]}, TypeError, r"`jump_ops\[0\]`"),
        (
            "jump-td-dim",
            {"jump_ops": [qd.modulated(torch.cos, qd.destroy(2))]},
            ValueError,
            r"`jump_ops\[0\]`",
        ),
        ("jumps-bare-tensor", {"jump_ops": a()}, TypeError, r"`jump_ops`"),
        ("jumps-bare-operator", {"jump_ops": qd.constant(a())}, TypeError, r"`jump_ops`"),
        ("jumps-None", {"jump_ops": None}, TypeError, r"`jump_ops`"),
    )
    + cases(
        ("sesolve",),
        ("psi0-dim", {"state": qd.basis(N + 1, 0)}, ValueError, r"`psi0`"),
        ("psi0-1d", {"state": torch.ones(N)}, ValueError, r"`psi0`"),
        ("psi0-0d", {"state": torch.tensor(1.0)}, ValueError, r"`psi0`"),
        ("psi0-bra", {"state": ket().mT}, ValueError, r"`psi0`"),
        ("psi0-dm", {"state": dm()}, ValueError, r"`psi0`"),
        ("psi0-nan", {"state": ket() * NAN}, ValueError, r"`psi0`"),
        ("psi0-str", {"state": "0"}, TypeError, r"`psi0`"),
    )
    + cases(
        ("mesolve",),
        ("rho0-dim", {"state": qd.fock_dm(N + 1, 0)}, ValueError, r"`rho0`"),
        ("rho0-ket-dim", {"state": qd.basis(N + 1, 0)}, ValueError, r"`rho0`"),
        ("rho0-not-square", {"state": torch.ones(N, 2)}, ValueError, r"`rho0`"),
        ("rho0-1d", {"state": torch.ones(N)}, ValueError, r"`rho0`"),
        ("rho0-nan", {"state": dm() * NAN}, ValueError, r"`rho0`"),
        ("rho0-inf", {"state": dm() + INF}, ValueError, r"`rho0`"),
    )
    + cases(
        STATE_SOLVERS,
        ("exp-not-square", {"exp_ops": [torch.ones(N, 2)]}, ValueError, r"`exp_ops\[0\]`"),
        ("exp-dim", {"exp_ops": [qd.number(N + 1)]}, ValueError, r"`exp_ops\[0\]`"),
        ("exp1-dim", {"exp_ops": [a(), qd.number(2)]}, ValueError, r"`exp_ops\[1\]`"),
        ("exp-tensor-dim", {"exp_ops": torch.ones(2, N + 1, N + 1)}, ValueError, r"`exp_ops`"),
        ("exp-tensor-not-square", {"exp_ops": torch.ones(2, N, 2)}, ValueError, r"`exp_ops`"),
        ("exp-1d", {"exp_ops": torch.ones(N)}, ValueError, r"`exp_ops`"),
        ("exp-nan", {"exp_ops": [a() * NAN]}, ValueError, r"`exp_ops\[0\]`"),
        ("exp-str", {"exp_ops": "n"}, TypeError, r"`exp_ops`"),
    ),
)
def test_bad_operator_or_state(solver, counter, kwargs, exc, match):
    check(solver, counter, kwargs, exc, match)


def test_hilbert_dimension_of_time_dependent_H_checked(counter):
    H = qd.pwc([0.0, 0.5, 1.0], [1.0, 2.0], qd.sigmax())  # n = 2
    with pytest.raises(ValueError, match=r"`psi0`"):
        qd.sesolve(H, ket(), TSAVE)
    with pytest.raises(ValueError, match=r"`jump_ops\[0\]`"):
        qd.mepropagator(H, [a()], TSAVE)
    counter.assert_untouched()


# ----------------------------------------------------------------------------- batch shapes


@pytest.mark.parametrize(
    ("solver", "kwargs", "exc", "match"),
    cases(
        ("sesolve",),
        ("H-psi0", {"H": herm(3), "state": ket(2)}, ValueError, r"`H` \(3,\).*`psi0` \(2,\)"),
        ("H2d-psi0", {"H": herm(3, 2), "state": ket(3)}, ValueError, r"`psi0`"),
        (
            "pwc-psi0",
            {"H": qd.pwc([0.0, 0.5, 1.0], torch.ones(4, 2), herm()), "state": ket(3)},
            ValueError,
            r"`psi0`",
        ),
        (
            "modulated-psi0",
            {"H": qd.modulated(lambda t: torch.ones(4) * t, herm()), "state": ket(3)},
            ValueError,
            r"`psi0`",
        ),
    )
    + cases(
        ("mesolve",),
        ("H-rho0", {"H": herm(3), "state": dm(2)}, ValueError, r"`rho0`"),
        ("ket-rho0", {"H": herm(3), "state": ket(2)}, ValueError, r"`rho0`"),
    )
    + cases(
        JUMP_SOLVERS,
        ("H-jump", {"H": herm(3), "jump_ops": [a(2)]}, ValueError, r"`H`.*`jump_ops\[0\]`"),
        ("jump-jump", {"jump_ops": [a(3), a(2)]}, ValueError, r"`jump_ops\[0\]`.*`jump_ops\[1\]`"),
        (
            "td-jump",
            {"H": herm(3), "jump_ops": [qd.modulated(lambda t: torch.ones(2), a())]},
            ValueError,
            r"`jump_ops\[0\]`",
        ),
    )
    + cases(
        STATE_SOLVERS,
        ("exp-exp", {"exp_ops": [a(3), a(2)]}, ValueError, r"`exp_ops"),
        ("H-exp", {"H": herm(2), "exp_ops": [a(3)]}, ValueError, r"`exp_ops"),
    ),
)
def test_batch_shapes_that_do_not_broadcast(solver, counter, kwargs, exc, match):
    check(solver, counter, kwargs, exc, match)


# ----------------------------------------------------------------------------- tsave and t0


@pytest.mark.parametrize(
    ("solver", "kwargs", "exc", "match"),
    cases(
        SOLVERS,
        ("empty", {"tsave": []}, ValueError, r"`tsave`"),
        ("empty-tensor", {"tsave": torch.zeros(0)}, ValueError, r"`tsave`"),
        ("0d", {"tsave": 1.0}, ValueError, r"`tsave`"),
        ("2d", {"tsave": [[0.0, 1.0]]}, ValueError, r"`tsave`"),
        ("2d-tensor", {"tsave": torch.linspace(0, 1, 4).reshape(2, 2)}, ValueError, r"`tsave`"),
        ("decreasing", {"tsave": [0.0, 1.0, 0.5]}, ValueError, r"`tsave`"),
        ("reversed", {"tsave": [1.0, 0.0]}, ValueError, r"`tsave`"),
        ("repeated", {"tsave": [0.0, 1.0, 1.0]}, ValueError, r"`tsave`"),
        ("nan", {"tsave": [0.0, NAN]}, ValueError, r"`tsave`"),
        ("inf", {"tsave": [0.0, INF]}, ValueError, r"`tsave`"),
        ("neg-inf", {"tsave": torch.tensor([-INF, 0.0])}, ValueError, r"`tsave`"),
        ("complex", {"tsave": torch.tensor([0.0, 1j])}, TypeError, r"`tsave`"),
        ("str", {"tsave": "0 1"}, TypeError, r"`tsave`"),
        ("t0-after", {"options": qd.Options(t0=0.25)}, ValueError, r"`t0`"),
        ("t0-after-all", {"options": qd.Options(t0=5.0)}, ValueError, r"`t0`"),
    ),
)
def test_bad_tsave_or_t0(solver, counter, kwargs, exc, match):
    check(solver, counter, kwargs, exc, match)


@pytest.mark.parametrize("t0", [NAN, INF, -INF])
def test_options_t0_not_finite(t0):
    with pytest.raises(ValueError, match=r"`t0`"):
        qd.Options(t0=t0)


@pytest.mark.parametrize("cls", LINDBLAD, ids=_ids(LINDBLAD))
def test_single_save_time_returns_the_initial_state(cls):
    # one save time is valid (check_tsave accepts it): the result is the initial state
    res = qd.mesolve(herm(), [a()], dm(), [0.5], method=configured(cls))
    assert res.states.shape == (1, N, N)
    torch.testing.assert_close(res.final_state, dm(), rtol=0, atol=0)


# ----------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("solver", "kwargs", "exc", "match"),
    cases(
        SOLVERS,
        ("method-str", {"method": "tsit5"}, TypeError, r"`method`"),
        ("method-class", {"method": qd.method.Tsit5}, TypeError, r"`method`"),
        ("gradient-str", {"gradient": "direct"}, TypeError, r"`gradient`"),
        ("gradient-class", {"gradient": qd.gradient.Direct}, TypeError, r"`gradient`"),
        ("options-dict", {"options": {}}, TypeError, r"`options`"),
        ("options-dict-keys", {"options": {"save_states": False}}, TypeError, r"`options`"),
    ),
)
def test_wrong_types(solver, counter, kwargs, exc, match):
    check(solver, counter, kwargs, exc, match)


@pytest.mark.parametrize("solver", ["sesolve", "sepropagator"])
@pytest.mark.parametrize("cls", NOT_SCHRODINGER, ids=_ids(NOT_SCHRODINGER))
def test_method_that_does_not_apply(solver, cls, counter):
    with pytest.raises(ValueError, match=rf"`method`.*{cls.__name__}.*`{solver}`"):
        call(solver, counter, method=configured(cls))
    counter.assert_untouched()


@pytest.mark.parametrize("solver", SOLVERS)
def test_expm_without_dt_on_modulated_H(solver, counter):
    H = qd.modulated(counter.function(torch.cos), herm())
    counter.evaluations = 0  # construction evaluates f(0)
    with pytest.raises(ValueError, match=r"Expm.*`dt`"):
        call(solver, counter, H=H, method=qd.method.Expm())
    counter.assert_untouched()


@pytest.mark.parametrize("solver", JUMP_SOLVERS)
def test_expm_without_dt_on_modulated_jump_operator(solver, counter):
    L = qd.modulated(counter.function(torch.cos), a())
    counter.evaluations = 0  # construction evaluates f(0)
    with pytest.raises(ValueError, match=r"Expm.*`dt`"):
        call(solver, counter, jump_ops=[L], method=qd.method.Expm())
    counter.assert_untouched()


# ----------------------------------------------------------------------------- method arguments


def _bad_method_args():
    out = []
    for cls in ALL:
        fields = _fields(cls)
        bad = {"max_steps": [0, -1, 1.5, True]}
        if "dt" in fields:
            bad["dt"] = [0, 0.0, -1e-3, NAN, INF]
        for name in ("rtol", "atol"):
            if name in fields:
                bad[name] = [0, -1, NAN, INF]
        for name, values in bad.items():
            for value in values:
                out.append(pytest.param(cls, name, value, id=f"{cls.__name__}-{name}={value}"))
    return out


@pytest.mark.parametrize(("cls", "name", "value"), _bad_method_args())
def test_non_positive_method_arguments(cls, name, value):
    with pytest.raises(ValueError, match=rf"`{name}` of {cls.__name__}"):
        configured(cls, **{name: value})


# ----------------------------------------------------------------------------- kets to mesolve


@pytest.mark.parametrize("cls", LINDBLAD, ids=_ids(LINDBLAD))
def test_ket_given_to_mesolve_is_converted(cls):
    method = configured(cls)
    psi = (qd.basis(N, 0) + 1j * qd.basis(N, 2)) / 2**0.5
    H, Ls, E = herm(), [a()], [qd.number(N)]
    from_ket = qd.mesolve(H, Ls, psi, TSAVE, exp_ops=E, method=method)
    from_dm = qd.mesolve(H, Ls, psi @ psi.mH, TSAVE, exp_ops=E, method=method)
    assert from_ket.states.shape == (len(TSAVE), N, N)
    torch.testing.assert_close(from_ket.states[0], psi @ psi.mH, rtol=0, atol=1e-15)
    torch.testing.assert_close(from_ket.states, from_dm.states, rtol=0, atol=1e-14)
    torch.testing.assert_close(from_ket.expects, from_dm.expects, rtol=0, atol=1e-14)


def test_batched_kets_given_to_mesolve_are_converted():
    psi = torch.stack([qd.basis(N, 0), qd.basis(N, 1)])  # (2, n, 1)
    method = qd.method.RK4(dt=0.05)
    res = qd.mesolve(herm(), [a()], psi, TSAVE, method=method)
    ref = qd.mesolve(herm(), [a()], psi @ psi.mH, TSAVE, method=method)
    assert res.states.shape == (2, len(TSAVE), N, N)
    torch.testing.assert_close(res.states, ref.states, rtol=0, atol=1e-14)


# ----------------------------------------------------------------------------- failures


@pytest.mark.parametrize("cls", LINDBLAD, ids=_ids(LINDBLAD))
def test_max_steps_too_small_raises_solver_error(cls):
    t_end = 2.0
    tsave = [0.0, 1.0, t_end]
    method = configured(cls, max_steps=2, **({"dt": 0.01} if "dt" in _fields(cls) else {}))
    with pytest.raises(qd.SolverError, match=r"`max_steps`") as info:
        qd.mesolve(herm(), [a()], dm(), tsave, method=method)
    err = info.value
    assert 0.0 <= err.t <= t_end
    assert f"t = {err.t:.6g}" in str(err)  # the time reached is in the message
    assert "2" in str(err)


@pytest.mark.parametrize("cls", LINDBLAD, ids=_ids(LINDBLAD))
def test_non_finite_hamiltonian_during_integration(cls):
    calls = []

    def f(t):
        calls.append(float(t))
        return 1.0 if float(t) < 0.3 else NAN  # finite at construction, NaN later

    H = herm() + qd.modulated(f, herm())
    # max_steps bounds the adaptive methods' steps should they spin on NaN instead of failing
    kwargs = {"dt": 0.01} if "dt" in _fields(cls) and "rtol" not in _fields(cls) else {}
    method = configured(cls, max_steps=500, **kwargs)
    # Kraus maps (term kind "lindblad") fail when normalising a non-finite Kraus sum
    message = "the step map failed" if cls.term_kind == "lindblad" else "not finite"
    with pytest.raises(qd.SolverError, match=message) as info:
        qd.mesolve(H, [a()], dm(), TSAVE, method=method)
    assert info.value.t >= 0.3 - 0.01
    assert len(calls) < 1000  # fails fast
