import matplotlib

matplotlib.use("Agg")

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import dynamics as qd
from dynamics.plot import plot_expects, plot_fock, plot_pulses, plot_wigner


@pytest.fixture
def ax():
    return Figure().add_subplot()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- plot_wigner ---------------------------------------------------------------------------


def test_wigner_image_matches_qd_wigner_with_symmetric_scale(ax):
    state = qd.fock(6, 1)
    out = plot_wigner(state, ax=ax, xmax=3.0, npixels=31)
    assert out is ax
    (image,) = ax.images
    _, _, W = qd.wigner(state, xmax=3.0, ymax=3.0, npixels=31)
    np.testing.assert_allclose(image.get_array(), W.numpy())
    vmin, vmax = image.get_clim()
    assert vmin == -vmax
    assert vmax == pytest.approx(abs(W).max().item())
    assert image.get_extent() == [-3.0, 3.0, -3.0, 3.0]
    assert image.get_cmap().name == "RdBu_r"
    assert image.origin == "lower"
    # |1>: W(0, 0) = -1/pi at the centre pixel
    assert image.get_array()[15, 15] == pytest.approx(-1 / math.pi)


def test_wigner_ket_and_dm_agree_and_colorbar_optional(ax):
    psi = qd.coherent(10, 1.0 + 0.5j)
    plot_wigner(psi, ax=ax, npixels=21, colorbar=False)
    ax2 = Figure().add_subplot()
    plot_wigner(qd.ket2dm(psi), ax=ax2, npixels=21)
    np.testing.assert_allclose(ax.images[0].get_array(), ax2.images[0].get_array(), atol=1e-12)
    assert len(ax.figure.axes) == 1  # no colour bar
    assert len(ax2.figure.axes) == 2  # axes + colour bar


def test_wigner_accepts_tensor_requiring_grad_and_creates_axes():
    psi = qd.coherent(8, 1.0).clone().requires_grad_(True)
    out = plot_wigner(psi, npixels=11)
    assert out.images[0].get_array().shape == (11, 11)


def test_wigner_rejects_batch(ax):
    with pytest.raises(ValueError, match=r"`state`.*single"):
        plot_wigner(qd.fock(4, [0, 1]), ax=ax)


def test_wigner_rejects_bad_shape_and_ax():
    with pytest.raises(ValueError, match="`state`"):
        plot_wigner(torch.zeros(3, 2, dtype=torch.complex128))
    with pytest.raises(TypeError, match="`ax`"):
        plot_wigner(qd.fock(4, 0), ax="not axes")


# --- plot_fock -----------------------------------------------------------------------------


def test_fock_bars_of_ket(ax):
    psi = qd.coherent(12, 1.2)
    out = plot_fock(psi, ax=ax)
    assert out is ax
    heights = np.array([bar.get_height() for bar in ax.patches])
    xs = np.array([bar.get_x() + bar.get_width() / 2 for bar in ax.patches])
    np.testing.assert_allclose(heights, (psi[:, 0].abs() ** 2).numpy())
    np.testing.assert_allclose(xs, np.arange(12))


def test_fock_bars_of_dm_and_qutip(ax):
    qutip = pytest.importorskip("qutip")
    rho = qutip.thermal_dm(6, 0.7)
    plot_fock(rho, ax=ax)
    heights = np.array([bar.get_height() for bar in ax.patches])
    np.testing.assert_allclose(heights, rho.diag().real)


def test_fock_detaches_and_rejects_batch(ax):
    rho = qd.fock_dm(5, 3).clone().requires_grad_(True)
    plot_fock(rho, ax=ax)
    assert [bar.get_height() for bar in ax.patches] == [0, 0, 0, 1, 0]
    with pytest.raises(ValueError, match=r"`state`.*batch"):
        plot_fock(qd.fock_dm(5, [1, 2]))


# --- plot_pulses ---------------------------------------------------------------------------


def test_pulses_step_patches(ax):
    times = torch.linspace(0.0, 2.0, 5)
    values = torch.tensor([[1.0, -1.0, 0.5, 0.0], [0.0, 2.0, 2.0, 1.0]], requires_grad=True)
    out = plot_pulses(times, values, ax=ax, labels=["x", "y"])
    assert out is ax
    assert len(ax.patches) == 2
    for patch, row in zip(ax.patches, values.detach().numpy()):
        data = patch.get_data()
        np.testing.assert_allclose(data.values, row)
        np.testing.assert_allclose(data.edges, times.numpy())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y"]


def test_pulses_one_control_and_complex(ax):
    times = np.array([0.0, 1.0, 3.0])
    plot_pulses(times, [2.0, 3.0], ax=ax)
    assert len(ax.patches) == 1
    assert ax.get_legend() is None
    ax2 = Figure().add_subplot()
    plot_pulses(times, np.array([[1 + 2j, 3 - 1j]]), ax=ax2, labels=["u"])
    re, im = ax2.patches
    np.testing.assert_allclose(re.get_data().values, [1, 3])
    np.testing.assert_allclose(im.get_data().values, [2, -1])
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["Re u", "Im u"]


@pytest.mark.parametrize(
    ("times", "values", "match"),
    [
        (np.linspace(0, 1, 5), np.zeros((2, 3, 4)), "`values`.*batch"),
        (np.linspace(0, 1, 5), np.zeros((2, 5)), "shapes"),
        (np.array([0.0, 1.0, 1.0]), np.zeros(2), "strictly increasing"),
        (np.linspace(0, 1, 3), np.array([0.0, np.nan]), "finite"),
    ],
)
def test_pulses_bad_input(times, values, match):
    with pytest.raises(ValueError, match=match):
        plot_pulses(times, values)


def test_pulses_bad_labels():
    with pytest.raises(ValueError, match="`labels`"):
        plot_pulses([0.0, 1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]], labels=["only one"])


# --- plot_expects --------------------------------------------------------------------------


def test_expects_lines_from_result(ax):
    tsave = torch.linspace(0.0, math.pi, 21)
    res = qd.sesolve(qd.sigmax() / 2, qd.basis(2, 0), tsave, exp_ops=[qd.sigmaz(), qd.sigmay()])
    out = plot_expects(res.tsave, res.expects, ax=ax, labels=["z", "y"])
    assert out is ax
    assert len(ax.lines) == 2
    for line, row in zip(ax.lines, res.expects):
        np.testing.assert_allclose(line.get_xdata(), tsave.numpy())
        np.testing.assert_allclose(line.get_ydata(), row.real.numpy())
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.cos(tsave.numpy()), atol=1e-6)


def test_expects_one_row_and_grad(ax):
    t = torch.linspace(0, 1, 4)
    x = (2 * t).requires_grad_(True)
    plot_expects(t, x, ax=ax)
    assert len(ax.lines) == 1
    assert ax.get_legend() is None
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 2 * t.numpy())


def test_expects_bad_input():
    with pytest.raises(ValueError, match=r"`expects`.*batch"):
        plot_expects(torch.linspace(0, 1, 4), torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="shapes"):
        plot_expects(torch.linspace(0, 1, 4), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="`labels`"):
        plot_expects(torch.linspace(0, 1, 4), torch.zeros(2, 4), labels="ab")
    with pytest.raises(TypeError, match="`expects`"):
        plot_expects([0.0, 1.0], ["a", "b"])
