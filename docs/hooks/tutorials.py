"""MkDocs hook: every `tutorials/*.py` (jupytext percent format) becomes a page with its outputs.

Each tutorial runs in its own Python process, in an empty working directory, cell by
cell in one namespace (as a notebook would run it): the hook keeps what each code
cell prints and every PNG file it writes (or, if it writes none, the matplotlib
figures it leaves open). The page shows the Markdown cells, the code, the printed
output and the figures, and links to the script itself. Nothing lists the
tutorials: the nav's `tutorials/` placeholder becomes `tutorials/index.md` (if
present) followed by one page per file, in file-name order.

Tutorials run in their fast mode (`QD_TUTORIAL_FAST=1`) unless the environment sets
`QD_TUTORIAL_FAST=0`. Outputs are cached, keyed by the tutorial, the mode and the
sources of `dynamics` and `solvers`; `QD_DOCS_CACHE=0` turns the cache off. A
tutorial that raises stops the build with its traceback.

Run one tutorial by hand: `python docs/hooks/tutorials.py TUTORIAL.py OUTDIR`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
PAGES = "tutorials"  # where the pages go in the site
CELL = re.compile(r"^# %%(.*)$")


def tutorial_paths() -> list[Path]:
    """Every tutorial, in file-name order."""
    return sorted(TUTORIALS.glob("*.py"))


def split_cells(source: str) -> list[dict]:
    """Cells of a jupytext percent script: `{"kind": "markdown" | "code", "source": str}`."""
    lines = source.splitlines()
    if lines and lines[0].strip() == "# ---":  # jupytext YAML header
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "# ---"), 0)
        lines = lines[end + 1 :]
    cells: list[dict] = []
    kind, body = "code", []
    for line in [*lines, "# %%"]:
        match = CELL.match(line)
        if match is None:
            body.append(line)
            continue
        text = "\n".join(body).strip("\n")
        if text.strip():
            if kind == "markdown":
                text = "\n".join(re.sub(r"^# ?", "", ln) for ln in text.splitlines())
            cells.append({"kind": kind, "source": text})
        header = match.group(1).strip()
        kind = "markdown" if header.startswith(("[markdown]", "[md]")) else "code"
        body = []
    return cells


# --- running one tutorial (in a child process) ------------------------------------


def run(script: Path, outdir: Path) -> None:
    """Run `script` cell by cell in `outdir`; write `cells.json` there (and its figures)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    os.chdir(outdir)
    cells = split_cells(script.read_text(encoding="utf-8"))
    namespace = {"__name__": "__main__", "__file__": str(script)}
    seen_figures: set[int] = set()
    for number, cell in enumerate(cells):
        if cell["kind"] != "code":
            continue
        before = {p.name: p.stat().st_mtime_ns for p in outdir.glob("*.png")}
        out = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out):
            try:
                code = compile(cell["source"], f"{script.name} (cell {number + 1})", "exec")
                exec(code, namespace)
            except BaseException:
                sys.stderr.write(f"{script.name}: cell {number + 1} raised\n")
                traceback.print_exc()
                raise SystemExit(1) from None
        cell["seconds"] = round(time.perf_counter() - start, 3)
        cell["stdout"] = out.getvalue()
        images = sorted(
            p.name
            for p in outdir.glob("*.png")
            if p.name not in before or before[p.name] != p.stat().st_mtime_ns
        )
        new_figures = [n for n in plt.get_fignums() if n not in seen_figures]
        if not images:
            for n in new_figures:  # figures shown, not saved
                name = f"{script.stem}_cell{number + 1}_fig{n}.png"
                plt.figure(n).savefig(name, dpi=100)
                images.append(name)
        seen_figures.update(new_figures)
        cell["images"] = images
    (outdir / "cells.json").write_text(json.dumps(cells, indent=1), encoding="utf-8")


# --- the page --------------------------------------------------------------------


def page_markdown(script: Path, cells: list[dict], fast: bool) -> str:
    """The Markdown page of one tutorial from its executed cells."""
    parts: list[str] = []
    note = (
        f'!!! info "Run it yourself"\n'
        f"    This page is the script [`tutorials/{script.name}`]({script.name}), "
        f"executed when the site was built"
        + (" in its fast mode (`QD_TUTORIAL_FAST=1`: fewer iterations)" if fast else "")
        + f". Run it with `python tutorials/{script.name}`, or open it as a notebook "
        "with jupytext."
    )
    for cell in cells:
        if cell["kind"] == "markdown":
            parts.append(cell["source"])
            if note and cell["source"].lstrip().startswith("# "):
                parts.append(note)  # after the title
                note = ""
            continue
        parts.append(f"```python\n{cell['source']}\n```")
        if cell.get("stdout", "").strip():
            parts.append(f'```text title="Output"\n{cell["stdout"].rstrip()}\n```')
        for image in cell.get("images", []):
            parts.append(f"![{Path(image).stem}]({script.stem}/{image})")
    if note:
        parts.insert(0, note)
    return "\n\n".join(parts) + "\n"


def _fast() -> bool:
    return os.environ.get("QD_TUTORIAL_FAST", "1") != "0"


def _cache_key(script: Path, fast: bool) -> str:
    digest = hashlib.sha256(script.read_bytes())
    digest.update(b"fast" if fast else b"full")
    digest.update(Path(__file__).read_bytes())
    for package in ("dynamics", "solvers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qdynamics-docs" / "tutorials"


def execute(script: Path, fast: bool) -> Path:
    """Run one tutorial (or take it from the cache) and return the directory of its outputs."""
    use_cache = os.environ.get("QD_DOCS_CACHE", "1") != "0"
    outdir = _cache_root() / f"{script.stem}-{_cache_key(script, fast)}"
    if use_cache and (outdir / "cells.json").is_file():
        return outdir
    if not use_cache:
        outdir = Path(tempfile.mkdtemp(prefix=f"qd-tutorial-{script.stem}-"))
    shutil.rmtree(outdir, ignore_errors=True)
    env = {**os.environ, "QD_TUTORIAL_FAST": "1" if fast else "0", "MPLBACKEND": "Agg"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    workers = min(max(len(_scripts), 1), os.cpu_count() or 1)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(workers, 1))))
    proc = subprocess.run(
        [sys.executable, __file__, str(script), str(outdir)],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        shutil.rmtree(outdir, ignore_errors=True)
        raise RuntimeError(f"tutorial {script.name} failed:\n{proc.stderr[-4000:]}")
    for stale in outdir.parent.glob(f"{script.stem}-*"):  # outputs of older versions
        if stale != outdir and use_cache:
            shutil.rmtree(stale, ignore_errors=True)
    return outdir


# --- MkDocs events ---------------------------------------------------------------


_scripts: list[Path] = []  # the tutorials of this build, listed once (files may come and go)


def on_config(config):
    """Replace the `tutorials/` placeholder of the nav by one page per tutorial."""
    _scripts[:] = tutorial_paths()
    config.nav = _expand(config.nav, config.docs_dir)
    return config


def _expand(nav, docs_dir: str):
    if isinstance(nav, list):
        return [_expand(item, docs_dir) for item in nav]
    if isinstance(nav, dict):
        return {
            key: _pages(docs_dir) if value == f"{PAGES}/" else _expand(value, docs_dir)
            for key, value in nav.items()
        }
    return nav


def _pages(docs_dir: str) -> list[str]:
    index = [f"{PAGES}/index.md"] if (Path(docs_dir) / PAGES / "index.md").is_file() else []
    return index + [f"{PAGES}/{p.stem}.md" for p in _scripts]


def on_files(files, config):
    """Execute every tutorial and add its page, its figures and its script to the site."""
    import logging

    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File

    log = logging.getLogger("mkdocs.hooks.tutorials")
    fast = _fast()
    scripts = list(_scripts)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, min(len(scripts), os.cpu_count() or 1))) as pool:
        futures = {script: pool.submit(execute, script, fast) for script in scripts}
        try:
            outdirs = {script: future.result() for script, future in futures.items()}
        except RuntimeError as err:
            raise PluginError(str(err)) from err
    log.info(f"tutorials: {len(scripts)} rendered in {time.perf_counter() - start:.1f} s")
    for script, outdir in outdirs.items():
        cells = json.loads((outdir / "cells.json").read_text(encoding="utf-8"))
        page = page_markdown(script, cells, fast)
        files.append(File.generated(config, f"{PAGES}/{script.stem}.md", content=page))
        files.append(File.generated(config, f"{PAGES}/{script.name}", abs_src_path=str(script)))
        for image in sorted(outdir.glob("*.png")):
            uri = f"{PAGES}/{script.stem}/{image.name}"
            files.append(File.generated(config, uri, abs_src_path=str(image)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Append the list of tutorials (title and goal, read from each script) to their index."""
    if page.file.src_uri != f"{PAGES}/index.md":
        return markdown
    items = []
    for script in _scripts:
        cells = [
            c for c in split_cells(script.read_text(encoding="utf-8")) if c["kind"] == "markdown"
        ]
        text = cells[0]["source"] if cells else ""
        title = next((ln[2:] for ln in text.splitlines() if ln.startswith("# ")), script.stem)
        goal = re.search(r"\*\*Goal\.\*\*\s*(.+?)(?:\n\s*\n|$)", text, re.S)
        summary = " ".join(goal.group(1).split()) if goal else ""
        items.append(f"- [{title}]({script.stem}.md)" + (f": {summary}" if summary else ""))
    return markdown.rstrip() + "\n\n" + "\n".join(items) + "\n"


if __name__ == "__main__":
    run(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
