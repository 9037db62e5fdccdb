"""The apps' modules import each other one way (DESIGN.md "Layout"), read from their source.

A circle between files works only while the modules happen to load in one order, and
an import placed inside a function to get round one hides it: those are refused, bar the
few that Django's app loading requires, which say so in a comment.
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("picky", "crm", "teambox", "actions", "connectors")


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def app_modules(app):
    """{module name: path} of an app's modules, migrations aside."""
    return {
        module_name(path): path
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    }


def all_modules():
    modules = {}
    for path in ROOT.glob("*/__init__.py"):
        if path.parent.name not in ("tests", "bench"):
            modules.update(app_modules(path.parent.name))
    return modules


MODULES = all_modules()


def imported(module, node):
    """The project modules an import statement of `module` loads: a submodule loads its
    packages too."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".")
            if MODULES[module].name != "__init__.py":
                package = package[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        names = [f"{base}.{alias.name}" for alias in node.names]
    targets = set()
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        parts = name.split(".")
        targets.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    # A module's own packages are loaded before it, whatever it imports from them.
    parts = module.split(".")
    return targets - {".".join(parts[:end]) for end in range(len(parts) + 1)}


def imports_of(module):
    """(module-level imports, [(line, imported modules, source lines)] inside functions)."""
    source = MODULES[module].read_text()
    top, inner = set(), []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                targets = imported(module, child)
                if in_function:
                    inner.append((child.lineno, targets))
                else:
                    top.update(targets)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(ast.parse(source), False)
    return top, inner, source.splitlines()


def circles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def walk(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, ()):
            if target not in index:
                walk(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = set()
            while module not in component:
                component.add(stack.pop())
            on_stack.difference_update(component)
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            walk(module)
    return found


@pytest.mark.parametrize("app", APPS)
def test_no_circle_between_the_modules_of_an_app(app):
    graph = {module: imports_of(module)[0] for module in MODULES}
    assert [
        circle for circle in circles(graph) if any(m.split(".")[0] == app for m in circle)
    ] == []


@pytest.mark.parametrize("app", APPS)
def test_an_import_inside_a_function_says_why(app):
    unexplained = []
    for module in app_modules(app):
        _, inner, lines = imports_of(module)
        for line, targets in inner:
            if targets and not lines[line - 2].strip().startswith("#"):
                unexplained.append(f"{MODULES[module].relative_to(ROOT)}:{line}")
    assert unexplained == []


def imports_of_app(app):
    return {target for module in app_modules(app) for target in imports_of(module)[0]}


@pytest.mark.parametrize("app", ["crm", "teambox"])
def test_crm_and_teambox_import_neither_actions_nor_connectors(app):
    assert {target.split(".")[0] for target in imports_of_app(app)} & {
        "actions",
        "connectors",
    } == set()


def test_the_engine_knows_no_domain():
    """The field mapping runs through the map_contact action type: the engine imports no
    crm module."""
    engine = [
        module for module in app_modules("connectors") if module.startswith("connectors.engine")
    ]
    assert engine
    assert {
        target for module in engine for target in imports_of(module)[0] if target.startswith("crm")
    } == set()


def test_the_action_protocol_knows_no_domain():
    assert {target.split(".")[0] for target in imports_of("actions.base")[0]} <= {"picky"}


def test_the_http_actions_services_do_not_import_the_engine():
    engine = {module for module in MODULES if module.startswith("connectors.engine")}
    assert imports_of("actions.http_services")[0] & engine == set()
