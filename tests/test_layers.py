"""The layers as the imports show them. In a fresh interpreter (this test process has long
imported everything): the pure core and the renderers load no web layer, no upstream client and
no store; building the app loads no production host. Over the source: no import cycle, counting
the imports inside functions too.

    records, scope, errors, redaction,     below everything (config with store_location, ranges,
    config                                 setting_values)
    reports/  (the pure core)              -> records, scope, errors, redaction
    render/   (the renderers)              -> reports, records, scope, errors, redaction
    upstream/                              -> records, errors, redaction, config
    store/  (beside upstream/)             -> the same, and upstream's strict JSON decoder
    the web layer (views, urls, ...) and the host (serving) above; the CLI on top
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
SRC = ROOT / "src"
PACKAGE = "stract_reports"
# What the core and the renderers may stand on, besides each other: plain records (of what the
# upstream serves, and of what a key may see), the exception tree, and the masking of secrets
# in messages.
BELOW_THE_CORE = {
    f"{PACKAGE}.records",
    f"{PACKAGE}.scope",
    f"{PACKAGE}.errors",
    f"{PACKAGE}.redaction",
}
# The settings, how their values are read from text, the store URL and the ranges they check
# at start.
SETTINGS = {
    f"{PACKAGE}.config",
    f"{PACKAGE}.setting_values",
    f"{PACKAGE}.store_location",
    f"{PACKAGE}.ranges",
}


def _loaded_after(code: str, *prefixes: str) -> list[str]:
    """The modules under ``prefixes`` that a fresh interpreter has loaded after ``code``."""
    probe = (
        f"import json, sys\n{code}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


def test_the_core_and_the_renderers_load_no_web_layer_client_or_store() -> None:
    every_module = "\n".join(
        f"import {name}" for name in _modules() if _within(name, _CORE, _RENDERERS)
    )
    assert "render.html" in every_module and "reports.slicing" in every_module
    loaded = _loaded_after(every_module, "flask", "waitress", "redis", PACKAGE)
    ours = {name for name in loaded if name.startswith(PACKAGE)}
    allowed = {PACKAGE, *SETTINGS, *BELOW_THE_CORE}
    assert [m for m in loaded if not m.startswith(PACKAGE)] == []  # no flask, waitress, redis
    assert {m for m in ours if not _within(m, _CORE, _RENDERERS)} <= allowed
    assert not any(_within(m, f"{PACKAGE}.upstream", f"{PACKAGE}.store") for m in ours)


def test_building_the_app_loads_no_production_host() -> None:
    code = (
        f"from {PACKAGE} import close_app, create_app\n"
        f"from {PACKAGE}.config import Settings\n"
        "close_app(create_app(settings=Settings()))"
    )
    assert _loaded_after(code, "flask") != []  # the probe sees what the app loads
    assert _loaded_after(code, "waitress", f"{PACKAGE}.serving", f"{PACKAGE}.cli") == []


# -- the import graph of src/, read with ast ------------------------------------------------------

_CORE, _RENDERERS = f"{PACKAGE}.reports", f"{PACKAGE}.render"


def _within(name: str, *packages: str) -> bool:
    """Whether module ``name`` is one of ``packages`` or inside one."""
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:``, which never run."""
    found, pending = [], [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports when it runs, at its top or inside a
    function (not for type checking only): each import as written (``from M import x`` reaches
    module ``M.x`` if there is one, else ``M``, which holds ``x``), and the packages on the way
    to it, but for the importer's own ancestors: they are imported before it."""
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                inner = f"{module}.{alias.name}"
                targets.add(inner if inner in modules else module)
    reached = set()
    for target in targets:
        while target and target not in modules:  # a name inside a module: the module
            target = target.rpartition(".")[0]
        if target:
            reached.add(target)
        while (target := target.rpartition(".")[0]).startswith(f"{PACKAGE}."):
            if not name.startswith(f"{target}."):
                reached.add(target)
    reached.discard(name)
    return reached


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as the path around it, or None."""
    state: dict[str, str] = {}  # "open" while on the path, "done" once explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _graph()

    assert len(graph) > 50
    assert f"{PACKAGE}.views" in graph[PACKAGE]  # create_app's imports, inside the function
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_core_and_the_renderers_import_only_each_other_and_what_is_below() -> None:
    graph = _graph()
    core = {name for name in graph if _within(name, _CORE)}
    renderers = {name for name in graph if _within(name, _RENDERERS)}

    assert {target for name in core for target in graph[name]} <= core | BELOW_THE_CORE
    assert {target for name in renderers for target in graph[name]} <= (
        core | renderers | BELOW_THE_CORE
    )


def _layout_entries() -> set[str]:
    """The paths the README's Layout section names, one a line, nested by indentation."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Layout") :]
    entries, stack = set(), []
    for line in block.splitlines():
        if not line.startswith("    ") or not line.strip():
            continue
        depth = (len(line) - len(line.lstrip()) - 4) // 2
        name = line.split()[0]
        if not name.endswith(("/", ".py")) or depth > len(stack):
            continue  # a description carried over to the next line
        del stack[depth:]
        entries.add("".join(stack) + name)
        if name.endswith("/"):
            stack.append(name)
    return entries


def test_the_readme_layout_names_every_module_and_no_other() -> None:
    modules = {
        str(path.relative_to(ROOT))
        for path in (SRC / PACKAGE).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    entries = _layout_entries()
    files = {entry for entry in entries if entry.endswith(".py")}
    packages = {f"{entry}__init__.py" for entry in entries if entry.endswith("/")}

    assert len(modules) > 50
    assert modules <= files | packages  # a package is named by its folder
    assert files <= modules  # and nothing that is gone


def test_the_client_and_the_store_stand_below_the_web_layer() -> None:
    graph = _graph()
    below = {*BELOW_THE_CORE, *SETTINGS}
    upstream, store = f"{PACKAGE}.upstream", f"{PACKAGE}.store"

    def reached(package: str) -> set[str]:
        inside = [name for name in graph if _within(name, package)]
        return {t for name in inside for t in graph[name] if not _within(t, package)}

    assert reached(upstream) <= below
    assert {t for t in reached(store) if not _within(t, upstream)} <= below


# A module a reader can hold in mind: past this, it has two jobs and a seam between them.
MAX_MODULE_LINES = 450


def test_no_module_is_longer_than_a_reader_can_hold() -> None:
    long = {
        str(path.relative_to(SRC)): lines
        for path in sorted(SRC.rglob("*.py"))
        if (lines := len(path.read_text("utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
