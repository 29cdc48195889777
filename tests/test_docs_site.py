"""The documentation site: API pages cover `__all__`, the pages' code runs, the built site renders.

The site tests use the site built by CI (`QD_DOCS_SITE=path`), or build one with
`mkdocs build --strict` when the docs extra is installed. The rendering test opens the
home page, a tutorial and an API page in headless Chromium and checks that the math
was typeset, the figures loaded and the navigation is there. Without the docs extra
or Chromium these tests are skipped, with the reason; under CI (`CI` set) they fail
instead, so CI always runs them.
"""

from __future__ import annotations

import doctest
import functools
import html
import http.server
import importlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted((ROOT / "tutorials").glob("*.py"))
IN_CI = bool(os.environ.get("CI"))


def skip_or_fail(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


def load_hook(name: str):
    spec = importlib.util.spec_from_file_location(
        f"docs_hook_{name}", DOCS / "hooks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# --- API reference --------------------------------------------------------------


@pytest.fixture(scope="module")
def api():
    if importlib.util.find_spec("griffe") is None:
        skip_or_fail("griffe is missing: pip install -e '.[docs]'")
    return load_hook("api")


def public_names(api) -> dict[str, object]:
    """`package.name` -> object, for every name in the `__all__` of every documented package."""
    names = {}
    for package in api.PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            if f"{package}.{name}" not in api.SUBPACKAGE_AREAS:
                names[f"{package}.{name}"] = getattr(module, name)
    return names


def test_api_pages_cover_every_public_name_once(api):
    pages = api.entries()
    listed = [e.public for page in pages.values() for e in page]
    assert sorted(listed) == sorted(public_names(api)), "every name of __all__, once"
    assert all(pages[area.slug] for area in api.AREAS), "no empty API page"


def test_api_page_of_a_reexport_links_to_its_documentation(api):
    pages = api.entries()
    documented: dict = {}
    texts = {a.slug: api.page_markdown(a, pages[a.slug], documented) for a in api.AREAS}
    assert "::: dynamics.method.Euler" in texts["methods"]
    assert "::: solvers.Euler" not in texts["solvers"]
    assert "(methods.md#dynamics.method.Euler)" in texts["solvers"]


# Public names whose docstring has no `>>>` example yet. The list may only shrink: a
# new name without an example fails, and so does a listed name that gained one.
MISSING_EXAMPLES: set[str] = set()


def test_every_public_name_has_a_docstring_example(api):
    """Every public name's docstring has an example (pytest --doctest-modules runs them)."""
    seen: dict[int, str] = {}
    missing = set()
    for public, obj in public_names(api).items():
        if id(obj) in seen:  # a re-export: judged under its first name
            continue
        seen[id(obj)] = public
        docstring = (
            registry_docstring(api, public) if isinstance(obj, tuple) else inspect.getdoc(obj)
        )
        if ">>>" not in (docstring or ""):
            missing.add(public)
    assert not missing - MISSING_EXAMPLES, "new public names without a docstring example"
    assert not (MISSING_EXAMPLES & set(seen.values())) - missing, (
        "these names have an example now: remove them from MISSING_EXAMPLES"
    )


def registry_docstring(api, public: str) -> str:
    """The docstring of a registry (`ALL_METHODS`): the string after the assignment.

    A tuple has no `__doc__` of its own; mkdocstrings renders the string literal that
    follows the assignment, read here with the same parser (griffe).
    """
    import griffe

    entry = next(e for page in api.entries().values() for e in page if e.public == public)
    module = griffe.load(entry.module, search_paths=[str(ROOT)], docstring_parser="google")
    attribute = module[entry.target.rsplit(".", 1)[1]]
    return attribute.docstring.value if attribute.docstring else ""


def test_registry_examples_run(api):
    """The examples of registries run: `--doctest-modules` skips attribute docstrings."""
    seen: set[int] = set()
    for public, obj in public_names(api).items():
        if not isinstance(obj, tuple) or id(obj) in seen:
            continue
        seen.add(id(obj))
        test = doctest.DocTestParser().get_doctest(
            registry_docstring(api, public), {}, public, None, 0
        )
        report: list[str] = []
        result = doctest.DocTestRunner().run(test, out=report.append)
        assert result.failed == 0, "".join(report)
    assert seen, "no registry among the public names"


# --- code on the pages -----------------------------------------------------------

PAGES = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts)


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_page_code_runs(page, tmp_path, monkeypatch):
    """The ```python blocks of each page run, in order, in one namespace."""
    blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)
    if not blocks:
        return
    if any("import qutip" in b for b in blocks):
        pytest.importorskip("qutip")
    import matplotlib

    matplotlib.use("Agg")
    import dynamics as qd

    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"{page.name} (block {i + 1})", "exec"), namespace)
    finally:
        qd.set_precision("double")
        qd.set_device("cpu")


def test_tutorial_cells_split():
    tutorials = load_hook("tutorials")
    cells = tutorials.split_cells(
        "# %% [markdown]\n# # Title\n#\n# Text $x$.\n\n# %%\nx = 1\n\n# %%\nprint(x)\n"
    )
    assert cells == [
        {"kind": "markdown", "source": "# Title\n\nText $x$."},
        {"kind": "code", "source": "x = 1"},
        {"kind": "code", "source": "print(x)"},
    ]


# --- the built site ----------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    given = os.environ.get("QD_DOCS_SITE")
    if given:
        path = Path(given)
        assert (path / "index.html").is_file(), f"QD_DOCS_SITE={given} holds no built site"
        return path
    if importlib.util.find_spec("mkdocs") is None:
        skip_or_fail("mkdocs is missing: pip install -e '.[docs]' to build the site")
    path = tmp_path_factory.mktemp("site")
    env = {**os.environ, "QD_TUTORIAL_FAST": "1", "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return path


@pytest.mark.slow
def test_site_has_every_tutorial_and_api_page(site, api):
    home = (site / "index.html").read_text(encoding="utf-8")
    for script in TUTORIALS:
        page = site / "tutorials" / script.stem / "index.html"
        assert page.is_file(), f"no page for tutorials/{script.name}"
        assert f"tutorials/{script.stem}/" in home, f"tutorials/{script.name} is not in the nav"
        html = page.read_text(encoding="utf-8")
        images = re.findall(r'<img[^>]+src="([^"]+\.png)"', html)
        assert images, f"tutorials/{script.name}: no figure on its page"
        for src in images:
            assert (page.parent / urllib.parse.unquote(src)).resolve().is_file(), src
    for area in api.AREAS:
        assert (site / "api" / area.slug / "index.html").is_file()
        assert f"api/{area.slug}/" in home, f"API page {area.slug} is not in the nav"
    assert (site / "assets" / "mathjax" / "tex-chtml-full.js").is_file()


CHECK_PAGE = """<!doctype html><html><body><pre id="result">pending</pre>
<iframe id="page" width="1280" height="2000"></iframe>
<script>
const frame = document.getElementById("page");
const report = (r) => { document.getElementById("result").textContent = JSON.stringify(r); };
frame.onload = () => {
  const w = frame.contentWindow, d = frame.contentDocument;
  const images = () => Promise.all(Array.from(d.images).map((img) => img.complete
      ? null : new Promise((ok) => { img.onload = img.onerror = ok; })));
  const done = () => {
    const glyph = d.querySelector("mjx-container mjx-c");
    const before = glyph ? w.getComputedStyle(glyph, "::before").content : null;
    report({
      mathjax: !!(w.MathJax && w.MathJax.version),
      math: d.querySelectorAll("mjx-container").length,
      unrendered: d.querySelectorAll(".arithmatex:not(:has(mjx-container))").length,
      errors: d.querySelectorAll("mjx-merror").length,
      glyph: before,
      images: Array.from(d.querySelectorAll("article img")).map(
          (img) => [img.getAttribute("src"), img.naturalWidth]),
      tabs: Array.from(d.querySelectorAll(".md-tabs__link")).map((a) => a.textContent.trim()),
      nav: d.querySelectorAll("nav.md-nav--primary a.md-nav__link").length,
      title: d.title,
    });
  };
  const wait = (tries) => {
    if (w.MathJax && w.MathJax.startup && w.MathJax.startup.promise) {
      w.MathJax.startup.promise.then(images).then(() => setTimeout(done, 500));
    } else if (tries > 0) {
      setTimeout(() => wait(tries - 1), 100);
    } else {
      images().then(done);
    }
  };
  wait(100);
};
frame.src = decodeURIComponent(location.hash.slice(1));
</script></body></html>
"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture(scope="module")
def render(site, tmp_path_factory):
    """`render(path)`: what headless Chromium shows of a page of the site (a dict)."""
    chromium = find_chromium()
    if chromium is None:
        skip_or_fail("Chromium is missing (apt-get install chromium) to render the built site")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/__check__.html"):
                body = CHECK_PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                super().do_GET()

        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tmp_path_factory.mktemp("chromium-profile")

    def render(path: str) -> dict:
        url = f"http://127.0.0.1:{server.server_port}/__check__.html#{urllib.parse.quote(path)}"
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=30000",
            "--dump-dom",
            url,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        match = re.search(r'<pre id="result">(.*?)</pre>', proc.stdout, re.S)
        assert match, f"Chromium gave no page:\n{proc.stderr[-3000:]}"
        text = html.unescape(match.group(1))
        assert text != "pending", f"{path}: the page did not finish loading"
        return json.loads(text)

    yield render
    server.shutdown()


def check_math_and_nav(result: dict, path: str):
    assert result["mathjax"], f"{path}: MathJax did not load"
    assert result["math"] > 0, f"{path}: no typeset math"
    assert result["unrendered"] == 0, f"{path}: {result['unrendered']} formulas left as TeX"
    assert result["errors"] == 0, f"{path}: MathJax reported errors"
    assert result["glyph"] not in (None, "none", ""), f"{path}: math glyphs have no CSS"
    assert result["tabs"][:5] == ["Home", "Installation", "Guides", "Tutorials", "API reference"]
    assert result["nav"] >= 5, f"{path}: no navigation"


@pytest.mark.slow
def test_home_page_renders(render):
    result = render("/")
    check_math_and_nav(result, "home")
    assert result["title"].startswith("qdynamics")


@pytest.mark.slow
def test_tutorial_page_renders(render):
    assert TUTORIALS, "no tutorial to render"
    path = f"/tutorials/{TUTORIALS[0].stem}/"
    result = render(path)
    check_math_and_nav(result, path)
    figures = [(src, width) for src, width in result["images"] if src.endswith(".png")]
    assert figures, f"{path}: no figure"
    assert all(width > 0 for _, width in figures), f"{path}: figures that did not load: {figures}"


@pytest.mark.slow
def test_api_page_renders(render):
    result = render("/api/solve/")
    check_math_and_nav(result, "api/solve")  # the equations of the solve functions' docstrings
