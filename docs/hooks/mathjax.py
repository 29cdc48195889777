"""MkDocs hook: serve MathJax from the `django-static-mathjax` package, not from a CDN.

The site renders its math offline: the hook adds MathJax 3's `tex-chtml-full.js`
bundle (every TeX extension included, so nothing is loaded on demand) and the
CommonHTML fonts it loads from beside it to the site under `assets/mathjax/`, and
`mkdocs.yml` lists `assets/mathjax/tex-chtml-full.js` in `extra_javascript`.
"""

from __future__ import annotations

from pathlib import Path

PREFIX = "assets/mathjax"
BUNDLE = "tex-chtml-full.js"
FOLDERS = ("output/chtml/fonts/woff-v2",)


def mathjax_root() -> Path:
    """The `es5` directory of the MathJax distribution shipped by `django-static-mathjax`."""
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "MathJax is missing: install the docs extra, `pip install -e '.[docs]'` "
            "(it brings the package `django-static-mathjax`)."
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (root / BUNDLE).is_file():
        raise FileNotFoundError(f"{root / BUNDLE} not found: reinstall `django-static-mathjax`.")
    return root


def on_files(files, config):
    """Add the MathJax bundle and its fonts to the site."""
    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File

    try:
        root = mathjax_root()
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise PluginError(str(err)) from err
    paths = [root / BUNDLE] + [p for f in FOLDERS for p in sorted((root / f).iterdir())]
    for path in paths:
        uri = f"{PREFIX}/{path.relative_to(root).as_posix()}"
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
