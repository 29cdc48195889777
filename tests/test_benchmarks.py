"""The benchmark scripts never rot: `benchmarks/run.py --smoke` runs them all (QuTiP only)."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("qutip")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"qdynamics_benchmarks.{name}", BENCHMARKS / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runner_discovers_the_scripts():
    names = [p.stem for p in _load("run").discover()]
    assert "kerr_mesolve" in names
    assert "run" not in names


def test_table_of_ratios():
    rows = [
        {"benchmark": "b", "size": 8, "times": {"qdynamics": 1.0, "qutip": 4.0}},
        {"steps": 100, "mode": "Direct"},  # a script's own report: not in the table
    ]
    lines = _load("run").table(rows).splitlines()
    assert len(lines) == 3
    assert lines[2].split() == ["b", "8", "qutip", "1.0000", "4.0000", "0.25"]


@pytest.mark.slow
def test_run_smoke_completes(capsys):
    rows = _load("run").main(["--smoke"])
    kerr = [row for row in rows if row.get("benchmark") == "kerr_mesolve"]
    assert len(kerr) == 1
    assert kerr[0]["size"] == 8
    assert kerr[0]["max_diff"]["qutip"] < 1e-4
    assert set(kerr[0]["times"]) == {"qdynamics", "qutip"}
    assert all(t > 0 for t in kerr[0]["times"].values())
    assert "ratio" in capsys.readouterr().out
