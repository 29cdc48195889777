"""The benchmark scripts never rot: `benchmarks/run.py --smoke` runs them all (QuTiP only),
and the cross-library suite runs at its smoke sizes (QuTiP + qdynamics) on every test run."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qutip")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"qdynamics_benchmarks.{name}", BENCHMARKS / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
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


# --- the cross-library suite (benchmarks/suite.py) -----------------------------------


def test_suite_smoke_agrees_and_prints_its_tables(capsys, tmp_path):
    """QuTiP + qdynamics on every problem at tiny sizes: the check passes, the tables print."""
    suite = _load("suite")
    out = tmp_path / "suite.json"
    rows = suite.main(["--smoke", "--json", str(out)])
    printed = capsys.readouterr().out
    solves = {row["problem"]: row for row in rows if "times" in row}
    assert set(solves) == {"P1", "P2", "P3"}
    for name, row in solves.items():
        assert row["size"] == suite.PROBLEMS[name].smoke_sizes[0]
        assert set(row["times"]) == {"qdynamics", "qutip"}  # no dynamiqs in smoke mode
        assert all(t > 0 for t in row["times"].values())
        assert row["max_diff"]["qutip"] < (suite.AGREE_QUTIP_P2 if name == "P2" else 1e-4)
        assert row["steps"]["qdynamics"] > 0 and row["nfev"] > 0
    grads = [row for row in rows if row.get("problem") == "P4"]
    assert [row["case"] for row in grads] == [f"qdynamics {m}" for m in suite.P4_QD_MODES]
    assert all(row["fd_err"] < suite.GRAD_AGREE for row in grads[1:])
    assert "ratio" in printed and "best other" in printed and "P4 case" in printed
    assert "dq dense" not in printed  # columns of a library that did not run are left out
    assert "note: smoke sizes" in printed
    saved = json.loads(out.read_text())
    assert saved["machine"]["cpus"] >= 1 and len(saved["rows"]) == len(rows)


def test_suite_stops_when_libraries_disagree():
    suite = _load("suite")

    def solve():
        return np.zeros(3), {}

    with pytest.raises(suite.DisagreementError, match="disagrees"):
        suite.measure(solve, 0, 0.0, np.full(3, 1e-3), "other")
    out, _ = suite.measure(solve, 2, 1e9, np.full(3, 1e-5), "other")
    assert out["runs"] == 2 and out["max_diff"] == pytest.approx(1e-5)


def test_suite_options():
    suite = _load("suite")
    args = suite.parse(["--problems", "P1", "P2", "--sizes", "6", "--no-dynamiqs"])
    assert args.problems == ["P1", "P2"] and args.sizes == [6]
    assert not args.dynamiqs and args.runs == 5
    assert not suite.parse(["--smoke"]).dynamiqs


def test_suite_table_ratio_to_the_fastest_competitor():
    suite = _load("suite")
    row = {
        "problem": "P1",
        "size": 16,
        "times": {"qdynamics": 2.0, "qutip": 4.0, "dynamiqs-dense": 8.0, "dynamiqs-dia": 1.0},
        "first_call": {"qdynamics": 2.0, "qutip": 4.0, "dynamiqs-dense": 9.0, "dynamiqs-dia": 3.0},
        "runs": {"qdynamics": 0, "qutip": 5, "dynamiqs-dense": 5, "dynamiqs-dia": 5},
        "max_diff": {"qutip": 1e-6},
        "steps": {"qdynamics": 400, "dynamiqs-dia": 410},
        "nfev": 2400,
    }
    line = suite.table([row]).splitlines()[-1]
    assert "dq dia" in line and line.split("|")[3].split() == ["dq", "dia", "2"]
    assert "2*" in line  # our time is the first call: no timed run within the budget
    narrow = suite.table([row], dynamiqs=False)
    assert "dq" not in narrow.splitlines()[0]
    assert narrow.splitlines()[-1].split("|")[3].split() == ["QuTiP", "0.5"]
