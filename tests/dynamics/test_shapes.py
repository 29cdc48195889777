import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynamics._shapes import broadcast_shapes

shape = st.lists(st.sampled_from([1, 2, 3]), max_size=4).map(tuple)


@given(st.lists(shape, max_size=4))
def test_broadcast_shapes_follows_numpy(shapes):
    try:
        expected = np.broadcast_shapes(*shapes)
    except ValueError:
        with pytest.raises(RuntimeError):
            broadcast_shapes(*shapes)
    else:
        assert tuple(broadcast_shapes(*shapes)) == expected


def test_first_solve_does_not_import_sympy():
    import subprocess
    import sys

    code = (
        "import sys, torch, dynamics as qd\n"
        "qd.mesolve(qd.destroy(3) + qd.create(3), [qd.destroy(3)], qd.fock(3, 0), [0.0, 1.0],"
        " exp_ops=[qd.number(3)])\n"
        "print('sympy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # importing it costs ~0.3 s of first-call latency
