"""Every tutorial runs (in its fast mode), so that none can rot."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parent.parent / "tutorials").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QD_TUTORIAL_FAST", "1")
    runpy.run_path(str(path), run_name="__main__")
    assert list(tmp_path.glob("*.png")), "the tutorial should write its figure"


def test_tutorials_exist():
    assert TUTORIALS
