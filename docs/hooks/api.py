"""MkDocs hook: one API reference page per area, generated from the packages' `__all__`.

Each area reads the `__all__` of one package. The flat namespace `dynamics`
(`import dynamics as qd`) is split between several areas by the module that defines
each name, so adding a public name to an existing module never means editing a list;
a name from a module that no area claims stops the build with a message saying where
to add it. A name that is re-exported (the engine's methods and gradient modes, which
`qd.method` and `qd.gradient` show) is documented once, on the first area that lists
it, and linked from the others.

The names are read statically with griffe (as mkdocstrings does), without importing
torch. `entries()` is also used by `tests/test_docs_site.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Area:
    """One page of the API reference."""

    slug: str
    title: str
    package: str  # the package whose `__all__` this page documents
    modules: tuple[str, ...] = ()  # defining modules: which names it takes, in which order
    intro: str = ""


AREAS = (
    Area(
        "operators-states",
        "Operators and states",
        "dynamics",
        ("dynamics.operators", "dynamics.states"),
        "Constructors of standard operators and states, with QuTiP's and dynamiqs' names. "
        "Every name is available as `qd.<name>` after `import dynamics as qd`; "
        "each takes `dtype=` and `device=` (defaults: `qd.set_precision`, `qd.set_device`).",
    ),
    Area(
        "utilities",
        "Utilities",
        "dynamics",
        ("dynamics.linalg", "dynamics.wigner", "dynamics._convert", "dynamics._config"),
        "Quantum linear algebra, metrics, the Wigner function, conversions from and to QuTiP, "
        "and the global defaults. Every name is available as `qd.<name>`.",
    ),
    Area(
        "time-operators",
        "Time-dependent operators",
        "dynamics",
        ("dynamics.time_operators",),
        "Operators that depend on time, accepted wherever the solve functions take an "
        "operator (`H` and each jump operator). Every name is available as `qd.<name>`; "
        "see also the [guide](../guides/time-dependent.md).",
    ),
    Area(
        "solve",
        "Solve functions",
        "dynamics",
        (
            "dynamics.sesolve",
            "dynamics.mesolve",
            "dynamics.propagators",
            "dynamics.result",
            "dynamics.options",
            "solvers.errors",
        ),
        "The solve functions, what they return, their options and the error they raise. "
        "Every name is available as `qd.<name>`.",
    ),
    Area("methods", "Methods", "dynamics.method"),
    Area("gradients", "Gradients", "dynamics.gradient"),
    Area("control", "Control", "dynamics.control"),
    Area("plotting", "Plotting", "dynamics.plot"),
    Area(
        "solvers",
        "Solvers engine",
        "solvers",
        (
            "solvers.integrate",
            "solvers.terms",
            "solvers.solution",
            "solvers.errors",
            "solvers.methods",
            "solvers.gradients",
        ),
    ),
)
PACKAGES = tuple(dict.fromkeys(area.package for area in AREAS))
SUBPACKAGE_AREAS = {area.package for area in AREAS if area.package != "dynamics"}


@dataclass(frozen=True)
class Entry:
    """One public name: where users find it, and what mkdocstrings renders."""

    public: str  # e.g. `dynamics.destroy`
    identifier: str  # what `:::` renders (the public path, unless a submodule shadows it)
    target: str  # the canonical path of the object (duplicates share it)
    module: str  # the module that defines it
    lineno: int


class APIError(Exception):
    """A public name that no area can place."""


def _loader():
    import griffe

    loader = griffe.GriffeLoader(search_paths=[str(ROOT)], docstring_parser="google")
    for package in {p.split(".")[0] for p in PACKAGES}:
        loader.load(package)
    loader.resolve_aliases(implicit=False, external=None)
    return loader


def _entry(package, name: str) -> Entry:
    obj = package.members.get(name)
    if obj is None:
        raise APIError(f"`{package.path}.__all__` lists `{name}`, which griffe cannot find.")
    identifier = f"{package.path}.{name}"
    if obj.is_module and f"{package.path}.{name}" not in SUBPACKAGE_AREAS:
        # `from .mesolve import mesolve`: the submodule shadows the function for griffe.
        obj = obj.members.get(name)
        if obj is None:
            raise APIError(f"`{identifier}` is a module without an area of its own.")
        identifier = f"{package.path}.{name}.{name}"
    target = obj.final_target if obj.is_alias else obj
    return Entry(
        f"{package.path}.{name}", identifier, target.path, target.module.path, target.lineno or 0
    )


def entries() -> dict[str, list[Entry]]:
    """The public names of every area, in page order (by module, then by source line).

    Raises:
        APIError: If a name of `dynamics.__all__` belongs to no area.
    """
    collection = _loader().modules_collection
    pages: dict[str, list[Entry]] = {area.slug: [] for area in AREAS}
    ranks: dict[str, int] = {}
    for package_path in PACKAGES:
        package = collection[package_path]
        ranks |= _registry_ranks(package)
        areas = [area for area in AREAS if area.package == package_path]
        for name in map(str, package.exports or ()):
            if f"{package_path}.{name}" in SUBPACKAGE_AREAS:
                continue  # a subpackage with its own page
            entry = _entry(package, name)
            area = _area_of(entry, areas)
            pages[area.slug].append(entry)
    for area in AREAS:
        order = list(area.modules)
        pages[area.slug].sort(
            key=lambda e: (
                _module_rank(e.module, order),
                ranks.get(e.public, len(ranks)),
                e.module,
                e.lineno,
                e.public,
            )
        )
    return pages


def _registry_ranks(package) -> dict[str, int]:
    """Positions in the package's registries (`ALL_METHODS`, `ALL_GRADIENTS`): their order first."""
    ranks: dict[str, int] = {}
    for name, member in package.members.items():
        member = member.final_target if member.is_alias else member
        if name.startswith("ALL_") and getattr(member, "value", None) is not None:
            for item in str(member.value).strip("()").split(","):
                if item.strip():
                    ranks.setdefault(f"{package.path}.{item.strip()}", len(ranks))
    return ranks


def _area_of(entry: Entry, areas: list[Area]) -> Area:
    if len(areas) == 1:
        return areas[0]
    for area in areas:
        if any(_within(entry.module, m) for m in area.modules):
            return area
    raise APIError(
        f"`{entry.public}` is defined in `{entry.module}`, which no API page takes: "
        f"add that module to an area in docs/hooks/api.py."
    )


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _module_rank(module: str, order: list[str]) -> int:
    return next((i for i, m in enumerate(order) if _within(module, m)), len(order))


def page_markdown(area: Area, page: list[Entry], documented: dict[str, tuple[str, str]]) -> str:
    """The Markdown of one area; `documented` maps canonical paths to (slug, anchor) seen so far."""
    lines = [f"# {area.title}", ""]
    if area.package != "dynamics":
        lines += [f"::: {area.package}", "    options:", "      members: false"]
        lines += ["      show_root_heading: false", ""]
    if area.intro:
        lines += [area.intro, ""]
    links = []
    for entry in page:
        if entry.target in documented:
            links.append((entry, *documented[entry.target]))
            continue
        documented[entry.target] = (area.slug, entry.identifier)
        lines += [f"::: {entry.identifier}", ""]
    if links:
        lines += ["## Documented elsewhere", ""]
        lines += ["The same objects, also exported here:", ""]
        for entry, slug, anchor in links:
            lines.append(f"- `{entry.public}`: see [`{anchor}`]({slug}.md#{anchor})")
        lines.append("")
    return "\n".join(lines)


def index_markdown(pages: dict[str, list[Entry]]) -> str:
    """The API reference's landing page: one line per area with its names."""
    lines = [
        "# API reference",
        "",
        "Generated from the `__all__` of each package: every public name is on exactly one page.",
        "",
        "| page | names |",
        "| --- | --- |",
    ]
    for area in AREAS:
        names = ", ".join(f"`{e.public.rsplit('.', 1)[1]}`" for e in pages[area.slug])
        lines.append(f"| [{area.title}]({area.slug}.md) (`{area.package}`) | {names} |")
    return "\n".join(lines) + "\n"


# --- MkDocs events ---------------------------------------------------------------


def on_config(config):
    """Replace the `api/` placeholder of the nav by the generated pages."""
    config.nav = _expand(config.nav)
    return config


def _expand(nav):
    if isinstance(nav, list):
        return [_expand(item) for item in nav]
    if isinstance(nav, dict):
        return {
            key: (
                ["api/index.md", *(f"api/{a.slug}.md" for a in AREAS)]
                if value == "api/"
                else _expand(value)
            )
            for key, value in nav.items()
        }
    return nav


def on_files(files, config):
    """Add `api/index.md` and one generated page per area."""
    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File

    try:
        pages = entries()
    except APIError as err:
        raise PluginError(str(err)) from err
    documented: dict[str, tuple[str, str]] = {}
    files.append(File.generated(config, "api/index.md", content=index_markdown(pages)))
    for area in AREAS:
        text = page_markdown(area, pages[area.slug], documented)
        files.append(File.generated(config, f"api/{area.slug}.md", content=text))
    return files
