"""SQL that the ORM cannot express, and every difference between databases, live in one
`queries` module per app (DESIGN.md "Layout"), read from the apps' source: services
written against the ORM stay the same on SQLite and PostgreSQL."""

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("picky", "crm", "teambox", "actions", "connectors")
# picky/rows.py builds the statements the queries modules run.
SQL_HELPERS = {"picky/rows.py"}


def sql_uses(tree):
    """(line, what) of the SQL a module writes or runs itself, and of its vendor branches."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "vendor":
            yield node.lineno, "connection.vendor"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("cursor", "raw", "extra"):
                yield node.lineno, f".{node.func.attr}()"
        elif isinstance(node, ast.Name) and node.id in ("RawSQL", "RawQuerySet"):
            yield node.lineno, node.id
        elif isinstance(node, ast.ImportFrom) and node.module in ("picky.rows", "rows"):
            yield node.lineno, "picky.rows"


@pytest.mark.parametrize("app", APPS)
def test_sql_lives_in_the_apps_queries_module(app):
    outside = []
    for path in sorted((ROOT / app).rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if "migrations" in path.parts or path.name == "queries.py" or name in SQL_HELPERS:
            continue
        for line, what in sql_uses(ast.parse(path.read_text())):
            outside.append(f"{name}:{line} {what}")
    assert outside == []
