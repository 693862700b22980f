"""The one-way stack (../shared/DESIGN.md): layers without circles, the ML core free of
Django, every page and API view in the site app. `lint-imports` (make lint) checks the
layers as import-linter's contracts in pyproject.toml; these tests check the same house
from the source itself, including imports made inside functions."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGES = ("web", "recommender", "listening", "catalog", "musicsite")
ML_CORE = (
    "recommender.algorithms",
    "recommender.evaluation",
    "recommender.suggestions",
    "recommender.listener_lists",  # the one list builder, pure as the rest
)
# Where a page or API view is made: the site's, and nowhere else (the admin is Django's).
VIEW_MODULES = ("django.shortcuts", "django.views", "rest_framework", "drf_spectacular")


def in_ml_core(dotted: str) -> bool:
    return any(dotted == core or dotted.startswith(core + ".") for core in ML_CORE)


def modules_of(root: Path, packages) -> dict[str, Path]:
    """Every module of these packages under `root`, by dotted name (migrations left out:
    Django writes them, and they import only Django)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported_names(name: str, path: Path, modules=()) -> set[str]:
    """Every dotted name the module imports, anywhere in it (functions too). `from a import
    b` is `a.b` when that is a module (in `modules`), else `a` (as grimp, import-linter's
    graph, counts it)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                names.add(full if full in modules else module)
    return names


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules of ours it imports."""

    def ours(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    return {
        name: {ours(d) for d in imported_names(name, path, modules) if ours(d) not in (None, name)}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_the_product_is_in_an_import_cycle():
    graph = import_graph(modules_of(BASE_DIR, PACKAGES))
    assert len(graph) > 120  # the scan read the product, not an empty folder
    assert cycles(graph) == []


def test_the_cycle_scan_finds_a_cycle_made_inside_a_function(tmp_path):
    package = tmp_path / "knot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from knot import b\n")
    (package / "b.py").write_text("def later():\n    from . import c\n")
    (package / "c.py").write_text("import knot.a\n")
    (package / "d.py").write_text("from . import a, b\n")  # imports without a circle
    graph = import_graph(modules_of(tmp_path, ["knot"]))
    assert cycles(graph) == [["knot.a", "knot.b", "knot.c"]]


def test_each_layer_imports_only_the_layers_below_it():
    modules = modules_of(BASE_DIR, PACKAGES)
    graph = import_graph(modules)
    rank = {package: len(PACKAGES) - position for position, package in enumerate(PACKAGES)}
    upward = [
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if rank[target.split(".")[0]] > rank[source.split(".")[0]]
    ]
    assert upward == []


def test_the_ml_core_imports_nothing_of_ours_outside_it_and_no_django():
    modules = modules_of(BASE_DIR, PACKAGES)
    core = {name: path for name, path in modules.items() if in_ml_core(name)}
    assert "recommender.algorithms.als" in core and "recommender.evaluation.metrics" in core
    wrong = []
    for name, path in core.items():
        for dotted in imported_names(name, path, modules):
            top = dotted.split(".")[0]
            if top in PACKAGES and not in_ml_core(dotted):
                wrong.append(f"{name} -> {dotted}")
            if top in ("django", "rest_framework", "celery", "kombu", "redis"):
                wrong.append(f"{name} -> {dotted}")
    assert wrong == []


def test_import_linter_forbids_the_ml_core_every_other_module_of_the_recommender():
    config = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())
    (contract,) = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["name"].startswith("The ML core")
    ]
    assert set(contract["source_modules"]) == set(ML_CORE)
    outside = {
        f"recommender.{path.stem if path.is_file() else path.name}"
        for path in (BASE_DIR / "recommender").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    } - set(ML_CORE)
    assert outside <= set(contract["forbidden_modules"])


def test_no_page_or_api_view_is_outside_the_site_app():
    modules = modules_of(BASE_DIR, PACKAGES[1:])
    views = [
        f"{name} -> {dotted}"
        for name, path in modules.items()
        if not name.endswith(".admin")  # the Django admin's own pages, per app
        for dotted in imported_names(name, path, modules)
        if dotted.startswith(VIEW_MODULES)
    ]
    assert views == []
    assert not [p for p in BASE_DIR.glob("*/urls.py") if p.parent.name != "web"]
    assert not (BASE_DIR / "templates").exists() or {
        p.name for p in (BASE_DIR / "templates").iterdir()
    } <= {"admin"}


def test_import_linter_keeps_every_contract():
    lint = Path(sys.executable).parent / "lint-imports"
    if not lint.exists():
        pytest.skip("import-linter is not installed")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=BASE_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
