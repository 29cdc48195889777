"""Run every benchmark in `benchmarks/` and print a table of time ratios.

Each benchmark is a script `benchmarks/<name>.py` with `main(argv)` that accepts
`--smoke` and returns a dict or a list of dicts. Rows of the form
`{"benchmark", "size", "times": {"qdynamics": s, "<reference>": s, ...}}` enter the
table of ratios (qdynamics time / reference time: below 1, qdynamics is faster);
other rows are the script's own report, printed by the script itself.

    python benchmarks/run.py [--smoke] [--device cuda] [--only suite kerr_gradient]

`suite.py` is the cross-library suite (P1-P4 against QuTiP and dynamiqs); run on its own
it has more options (`python benchmarks/suite.py --help`).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def discover() -> list[Path]:
    """The benchmark scripts: every `*.py` here except this runner and private modules."""
    return [
        p for p in sorted(HERE.glob("*.py")) if p.name != "run.py" and not p.name.startswith("_")
    ]


def load(path: Path) -> ModuleType:
    """Import a benchmark script by path (the folder is not a package)."""
    name = f"qdynamics_benchmarks.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # registered first, as an import would (dataclasses need it)
    spec.loader.exec_module(module)
    return module


def table(rows: list[dict]) -> str:
    """Format the rows that hold reference timings: one line per benchmark and reference."""
    header = f"{'benchmark':<16} {'size':>5} {'reference':<14} {'qdynamics s':>12} "
    header += f"{'reference s':>12} {'ratio':>7}"
    lines = [header, "-" * len(header)]
    for row in rows:
        if "times" not in row:
            continue
        times = dict(row["times"])
        ours = times.pop("qdynamics")
        for ref, theirs in times.items():
            lines.append(
                f"{row['benchmark']:<16} {row['size']:>5} {ref:<14} {ours:>12.4f} "
                f"{theirs:>12.4f} {ours / theirs:>7.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    """Run all benchmarks (passing `--smoke` and `--device` through) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run (for CI)")
    parser.add_argument("--device", default=None, help="torch device (passed on when given)")
    parser.add_argument("--only", nargs="+", default=None, help="run only these scripts")
    args = parser.parse_args(argv)
    passthrough = ["--smoke"] if args.smoke else []
    passthrough += [] if args.device is None else ["--device", args.device]
    rows = []
    for path in discover():
        if args.only is not None and path.stem not in args.only:
            continue
        print(f"\n=== {path.stem}", flush=True)
        out = load(path).main(passthrough)
        rows.extend([out] if isinstance(out, dict) else list(out or []))
    print("\nratio = qdynamics time / reference time (below 1: qdynamics is faster)")
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
